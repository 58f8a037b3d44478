"""Time building the prepaid training frame, LightGBM training (threads, negative down-sampling) and `train_theme`.

    python benchmarks/bench_train.py --enterprises 100000
    python benchmarks/bench_train.py --enterprises 100000 --enterprises 1000000
    python benchmarks/bench_train.py --enterprises 1000000 --rss-limit 19000   # the frame peaks at ~15 GiB
    python benchmarks/bench_train.py --enterprises 100000 --reuse-frame --skip-whole --variant 1:1.0 --tag again

The cached synthetic world workspace/bench/world-<N>/ (see bench_features.py) is validated once
(features.dataset_validation.validate_dataset, run_gx=False, as of the cutoff 2026-06-30) into
workspace/bench/validated-<N>/; every measurement then runs in a fresh subprocess on its `accepted/` tables:

  (a) `build_training_frame` with the shipped prepaid spec, except `snapshot_months`, set so that exactly
      `--train-snapshots` (default 12) month-end snapshots land in the training split. The frame also holds the
      3 validation and 4 test snapshots, and the 5 snapshots of the embargo (a training label may not reach into
      validation) are dropped, not built: with 12 training snapshots the spec takes the last 24 labelable month
      ends and builds 19 of them. The frame is cached (parquet) for (b).
  (b) `train_scorer` on that frame (early stopping on validation, Platt calibration on validation), for each
      `--variant THREADS:RATE` (ModelParams.num_threads and negative_sample_rate; default 1:1.0 2:1.0 1:0.1 2:0.1).
      Timed: `train_scorer` alone (matrix encoding, down-sampling, LightGBM, calibration); `lgb.train` is also
      timed alone, and divided by the rounds it ran (best iteration + early-stopping patience, at most 400) gives
      seconds per boosting round. Quality, to show that down-sampling with 1/rate weights + calibration keeps it:
      validation AUC / PR-AUC, test AUC, test precision at the review budget (mean over the 4 test dates of the
      top-100 hit rate, risk_models.metrics.at_budget) and calibration on test (mean probability vs the base rate).
  (c) the whole `train_theme` with the same spec (shipped ModelParams: 1 thread, no down-sampling): frame, training,
      WoE scorecard and rule baselines, evaluation (with the world's true hazard as the oracle, as `riskgen train`
      does on a synthetic world) and the report; phases from the progress messages.

Wall seconds, CPU seconds (all threads), peak RSS of the child, and the 1-minute load average just before each child
are printed; results go to benchmarks/results/bench_train-world-<N>[-<tag>].json. The (a) and (b) figures are the
timed calls inside the child (the parquet cache written after (a) and read before (b) is not counted); peak RSS is
the whole child's. LightGBM's threads are OpenMP threads: on the two shared cores their benefit depends on the load.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    CACHE,
    ROOT,
    Measurement,
    MemoryLimitExceeded,
    load_average,
    print_table,
    run_isolated,
    write_results,
)

CUTOFF = date(2026, 6, 30)
PRELOAD = ("numpy", "polars", "lightgbm", "sklearn.linear_model", "risk_models.train_theme")
DEFAULT_VARIANTS = ("1:1.0", "2:1.0", "1:0.1", "2:0.1")


# --- functions run in the child processes (arguments and results are JSON) ---------------------------------------


def validate(world: str, out_dir: str, as_of: str) -> dict[str, Any]:
    from features.dataset_validation import validate_dataset

    result = validate_dataset(Path(world), Path(out_dir), as_of=date.fromisoformat(as_of), run_gx=False)
    return {"ok": result.ok, "blocking": [b.message for b in result.blocking]}


def _spec(snapshot_months: int) -> Any:
    from dataclasses import replace

    from risk_models.themes.prepaid_cards import SPEC

    return replace(SPEC, model=replace(SPEC.model, snapshot_months=snapshot_months)) if snapshot_months else SPEC


def _store(validated: str, spec: Any) -> Any:
    from features.dataset_validation import accepted_path
    from features.store import TableStore

    return TableStore.from_folder(accepted_path(Path(validated), "x").parent, list(spec.tables))


def plan_snapshots(validated: str, cutoff: str, train_snapshots: int) -> dict[str, Any]:
    """The `snapshot_months` giving exactly `train_snapshots` training dates, and the resulting split."""
    from features.store import known_at
    from risk_models.dataset import snapshot_dates, split_dates
    from risk_models.themes.prepaid_cards import SPEC

    known = known_at(_store(validated, SPEC), date.fromisoformat(cutoff))
    model, horizon = SPEC.model, SPEC.label.horizon_days
    every = snapshot_dates(SPEC, known)  # snapshot_months=0 in the shipped spec: every labelable month end
    shipped = split_dates(every, model.valid_months, model.test_months, horizon)
    chosen = None
    for months in range(model.valid_months + model.test_months + 2, len(every) + 1):
        try:
            split = split_dates(every[-months:], model.valid_months, model.test_months, horizon)
        except ValueError:
            continue
        if len(split["train"]) == train_snapshots:
            chosen = months
            break
    if chosen is None:
        raise SystemExit(f"no snapshot_months gives {train_snapshots} training snapshots ({len(every)} labelable)")
    split = split_dates(every[-chosen:], model.valid_months, model.test_months, horizon)

    def iso(split: dict[str, list[date]]) -> dict[str, list[str]]:
        return {k: [d.isoformat() for d in v] for k, v in split.items()}

    return {
        "snapshot_months": chosen,
        "split": iso(split),
        "built": sum(len(v) for v in split.values()),
        "embargoed": chosen - sum(len(v) for v in split.values()),
        "shipped": {"snapshot_months": len(every), "split": iso(shipped), "built": sum(map(len, shipped.values()))},
    }


def build_frame(validated: str, cutoff: str, snapshot_months: int, cache: str) -> dict[str, Any]:
    """(a): build the training frame; the timed part is returned, then the frame is cached for (b)."""
    from risk_models.dataset import SPLIT, build_training_frame

    spec = _spec(snapshot_months)
    store = _store(validated, spec)
    began, cpu = time.perf_counter(), time.process_time()
    data = build_training_frame(spec, store, date.fromisoformat(cutoff))
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    import polars as pl

    counts = data.frame.group_by(SPLIT).agg(pl.len().alias("rows"), pl.col("label").sum().alias("positives"))
    data.frame.write_parquet(cache)
    meta = {"feature_names": data.feature_names, "categorical": data.categorical, "cutoff": cutoff}
    Path(cache).with_suffix(".json").write_text(json.dumps(meta))
    return {
        "build_seconds": seconds,
        "build_cpu_seconds": cpu,
        "rows": data.frame.height,
        "columns": data.frame.width,
        "frame_mib": data.frame.estimated_size() / 2**20,
        "by_split": {r[SPLIT]: {"rows": r["rows"], "positives": int(r["positives"])} for r in counts.to_dicts()},
    }


def _load_frame(cache: str) -> Any:
    import polars as pl

    from risk_models.dataset import TrainingFrame

    meta = json.loads(Path(cache).with_suffix(".json").read_text())
    frame = pl.read_parquet(cache)
    return TrainingFrame(frame, meta["feature_names"], meta["categorical"], date.fromisoformat(meta["cutoff"]))


def train(cache: str, snapshot_months: int, threads: int, rate: float) -> dict[str, Any]:
    """(b): `train_scorer` with the given threads and negative sample rate, and the model's quality."""
    from dataclasses import replace

    import lightgbm as lgb
    import numpy as np
    import polars as pl

    from risk_models.labels import LABEL
    from risk_models.metrics import SCORE, at_budget, ranking
    from risk_models.training import train_scorer

    spec = _spec(snapshot_months)
    params = replace(spec.model, num_threads=threads, negative_sample_rate=rate)
    data = _load_frame(cache)
    booster_info: dict[str, Any] = {}
    original = lgb.train

    def timed_train(*args: Any, **kwargs: Any) -> Any:
        # The returned booster keeps only the best iteration's trees: count the rounds actually run instead.
        rounds = [0]

        def count(env: lgb.callback.CallbackEnv) -> None:
            rounds[0] = env.iteration + 1

        kwargs["callbacks"] = [*kwargs.get("callbacks", []), count]
        began, cpu = time.perf_counter(), time.process_time()
        booster = original(*args, **kwargs)
        booster_info.update(
            seconds=time.perf_counter() - began,
            cpu_seconds=time.process_time() - cpu,
            rounds=rounds[0],
            best_iteration=booster.best_iteration,
            train_rows=args[1].num_data(),
        )
        return booster

    lgb.train = timed_train  # risk_models.training calls lgb.train through the module
    messages: list[str] = []
    began, cpu = time.perf_counter(), time.process_time()
    scorer = train_scorer(data, params, messages.append)
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    lgb.train = original

    valid, test = data.part("valid"), data.part("test")
    valid_p, test_p = scorer.probability(valid), scorer.probability(test)
    test_labels = test[LABEL].to_numpy()
    frame = test.select("entity_id", "as_of", LABEL).with_columns(pl.Series(SCORE, test_p))
    budget = spec.policy.budget_per_run
    return {
        "threads": threads,
        "rate": rate,
        "train_seconds": seconds,
        "train_cpu_seconds": cpu,
        "lgb": booster_info,
        "train_split_rows": data.part("train").height,
        "valid": ranking(valid[LABEL].to_numpy(), valid_p),
        "test": ranking(test_labels, test_p) | at_budget(frame, budget),
        "test_mean_probability": float(np.mean(test_p)),
        "test_base_rate": float(np.mean(test_labels)),
        "calibration": {"a": scorer.calibration.a, "b": scorer.calibration.b},
        "model_sha256": scorer.sha256,
    }


def whole(validated: str, world: str, cutoff: str, snapshot_months: int, report_dir: str) -> dict[str, Any]:
    """(c): the whole `train_theme`; phases split at its progress messages."""
    from risk_models.train_theme import train_theme

    spec = _spec(snapshot_months)
    store = _store(validated, spec)
    hazard = Path(world) / "true_hazard.parquet"
    marks: list[tuple[float, str]] = []
    began = time.perf_counter()
    result = train_theme(
        spec,
        store,
        date.fromisoformat(cutoff),
        Path(report_dir),
        hazard if hazard.exists() else None,
        progress=lambda message: marks.append((time.perf_counter() - began, message)),
    )
    total = time.perf_counter() - began

    def at(text: str) -> float:
        return next(t for t, m in marks if text in m)

    frame_done = at("labelled rows")
    trained = at("best iteration")
    return {
        "phases": {
            "frame": frame_done,
            "train_scorer": trained - frame_done,
            "baselines+evaluation+report": total - trained,
        },
        "rows": result.data.frame.height,
        "rankings": result.evaluation.rankings,
        "summary": result.summary(),
    }


# --- the benchmark ------------------------------------------------------------------------------------------------


def validated_dir(world: Path, rss_limit: float) -> Path:
    """workspace/bench/validated-<N>/ for world-<N>, validated once (reused when its report says ok)."""
    target = CACHE / world.name.replace("world-", "validated-")
    report = target / "validation_report.json"
    if report.exists() and json.loads(report.read_text()).get("ok"):
        print(f"reusing {target}")
        return target
    print(f"validating {world} into {target} ...")
    m = run_isolated(validate, str(world), str(target), CUTOFF.isoformat(), label="validate", rss_limit_mib=rss_limit)
    if not m.info["ok"]:
        raise SystemExit(f"validation of {world} failed: {m.info['blocking']}")
    print(
        f"validated in {m.seconds:.1f} s (CPU {m.cpu_seconds:.1f} s, peak {m.peak_rss_mib:,.0f} MiB, "
        f"load {m.load_before:.2f})"
    )
    return target


def world_dir(n: int) -> Path:
    folder = CACHE / f"world-{n}"
    if not (folder / "manifest.json").exists():
        raise SystemExit(f"{folder} does not exist: generate it with benchmarks/bench_features.py --enterprises {n}")
    return folder


def _measure(func: Any, *args: Any, label: str, rss_limit: float, notes: list[dict[str, Any]]) -> Measurement | None:
    try:
        m = run_isolated(func, *args, preload=PRELOAD, label=label, rss_limit_mib=rss_limit)
    except MemoryLimitExceeded as error:
        print(f"  {label}: {error}")
        notes.append({"run": label, "note": f"KILLED: RSS above {rss_limit:,.0f} MiB or machine low on memory"})
        return None
    print(
        f"  {label}: {m.seconds:.2f} s, CPU {m.cpu_seconds:.2f} s, peak {m.peak_rss_mib:,.0f} MiB, "
        f"load {m.load_before:.2f}"
    )
    return m


def bench(n: int, args: argparse.Namespace) -> dict[str, Any]:
    world = world_dir(n)
    validated = validated_dir(world, args.rss_limit)
    plan = run_isolated(plan_snapshots, str(validated), CUTOFF.isoformat(), args.train_snapshots, label="plan").info
    months = plan["snapshot_months"]
    split = plan["split"]
    print(
        f"{args.train_snapshots} training snapshots: snapshot_months={months}, building {plan['built']} dates "
        f"(train {split['train'][0]}..{split['train'][-1]}, valid {split['valid'][0]}..{split['valid'][-1]}, "
        f"test {split['test'][0]}..{split['test'][-1]}; {plan['embargoed']} embargoed dates not built). "
        f"Shipped spec: {plan['shipped']['snapshot_months']} labelable month ends, builds {plan['shipped']['built']}."
    )
    work = CACHE / f"train-{n}"
    work.mkdir(parents=True, exist_ok=True)
    cache = work / f"frame-s{months}.parquet"
    notes: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    payload: dict[str, Any] = {"world": str(world), "validated": str(validated), "plan": plan, "cutoff": str(CUTOFF)}

    frame_m = None
    if args.reuse_frame and cache.exists():
        print(f"  (a) frame: reusing {cache} (not measured)")
    else:
        frame_m = _measure(
            build_frame,
            str(validated),
            CUTOFF.isoformat(),
            months,
            str(cache),
            label="(a) frame",
            rss_limit=args.rss_limit,
            notes=notes,
        )
    payload["frame"] = frame_m
    if frame_m is not None:
        info = frame_m.info
        rows.append(
            {
                "run": f"(a) training frame, {plan['built']} dates",
                "seconds": info["build_seconds"],
                "CPU s": info["build_cpu_seconds"],
                "peak RSS MiB": frame_m.peak_rss_mib,
                "rows": info["rows"],
                "s/round": None,
                "load": frame_m.load_before,
                "note": f"{info['columns']} columns, {info['frame_mib']:,.0f} MiB in memory; "
                + ", ".join(f"{k} {v['rows']:,} ({v['positives']:,} pos)" for k, v in sorted(info["by_split"].items())),
            }
        )

    trains: dict[str, Measurement] = {}
    quality: list[dict[str, Any]] = []
    if cache.exists() and (frame_m is not None or args.reuse_frame):
        for variant in args.variant or DEFAULT_VARIANTS:
            threads, rate = int(variant.split(":")[0]), float(variant.split(":")[1])
            label = f"(b) train {threads}t rate {rate:g}"
            m = _measure(train, str(cache), months, threads, rate, label=label, rss_limit=args.rss_limit, notes=notes)
            if m is None:
                continue
            trains[variant] = m
            info = m.info
            lgb_info = info["lgb"]
            rows.append(
                {
                    "run": label,
                    "seconds": info["train_seconds"],
                    "CPU s": info["train_cpu_seconds"],
                    "peak RSS MiB": m.peak_rss_mib,
                    "rows": lgb_info["train_rows"],
                    "s/round": lgb_info["seconds"] / max(lgb_info["rounds"], 1),
                    "load": m.load_before,
                    "note": f"lgb.train {lgb_info['seconds']:.1f} s (CPU {lgb_info['cpu_seconds']:.1f}), "
                    f"{lgb_info['rounds']} rounds (best {lgb_info['best_iteration']}); "
                    f"{lgb_info['train_rows']:,} of {info['train_split_rows']:,} train rows",
                }
            )
            quality.append(
                {
                    "variant": f"{threads}t rate {rate:g}",
                    "valid AUC": f"{info['valid']['auc']:.4f}",
                    "valid PR-AUC": f"{info['valid']['pr_auc']:.4f}",
                    "test AUC": f"{info['test']['auc']:.4f}",
                    "test PR-AUC": f"{info['test']['pr_auc']:.4f}",
                    f"test P@{info['test']['budget']}": f"{info['test']['precision']:.4f}",
                    "test lift": f"{info['test']['lift']:.1f}",
                    "test mean p": f"{info['test_mean_probability']:.5f}",
                    "test base rate": f"{info['test_base_rate']:.5f}",
                    "best iter": lgb_info["best_iteration"],
                    "model sha256": info["model_sha256"][:12],
                }
            )
    payload["train"] = trains

    whole_m = None
    if not args.skip_whole:
        report_dir = work / "report"
        whole_m = _measure(
            whole,
            str(validated),
            str(world),
            CUTOFF.isoformat(),
            months,
            str(report_dir),
            label="(c) train_theme",
            rss_limit=args.rss_limit,
            notes=notes,
        )
        payload["whole"] = whole_m
        if whole_m is not None:
            phases = whole_m.info["phases"]
            model = whole_m.info["rankings"]["model"]
            rows.append(
                {
                    "run": "(c) train_theme (1t, rate 1)",
                    "seconds": whole_m.seconds,
                    "CPU s": whole_m.cpu_seconds,
                    "peak RSS MiB": whole_m.peak_rss_mib,
                    "rows": whole_m.info["rows"],
                    "s/round": None,
                    "load": whole_m.load_before,
                    "note": ", ".join(f"{k} {v:.1f} s" for k, v in phases.items())
                    + f"; test P@budget {model['precision']:.3f}, AUC {model['auc']:.3f}",
                }
            )
    print_table(rows + notes, title=f"world-{n}: training (cutoff {CUTOFF}); load now {load_average()}")
    if quality:
        print_table(quality, title="quality per variant (validation: early stopping + calibration set; test: 4 dates)")

    ratios: list[dict[str, Any]] = []

    def ratio(name: str, num: str, den: str) -> None:
        a, b = trains.get(num), trains.get(den)
        if a is None or b is None:
            return
        ratios.append(
            {
                "ratio": name,
                "train_scorer wall": a.info["train_seconds"] / b.info["train_seconds"],
                "train_scorer CPU": a.info["train_cpu_seconds"] / b.info["train_cpu_seconds"],
                "lgb s/round": (a.info["lgb"]["seconds"] / a.info["lgb"]["rounds"])
                / (b.info["lgb"]["seconds"] / b.info["lgb"]["rounds"]),
                "peak RSS": a.peak_rss_mib / b.peak_rss_mib,
                "Δ test P@budget": f"{a.info['test']['precision'] - b.info['test']['precision']:+.4f}",
                "Δ valid AUC": f"{a.info['valid']['auc'] - b.info['valid']['auc']:+.4f}",
                "Δ valid PR-AUC": f"{a.info['valid']['pr_auc'] - b.info['valid']['pr_auc']:+.4f}",
            }
        )

    ratio("2 threads / 1 thread (rate 1)", "2:1.0", "1:1.0")
    ratio("2 threads / 1 thread (rate 0.1)", "2:0.1", "1:0.1")
    ratio("rate 0.1 / rate 1 (1 thread)", "1:0.1", "1:1.0")
    ratio("rate 0.1 / rate 1 (2 threads)", "2:0.1", "2:1.0")
    if ratios:
        print_table(ratios, title="ratios (numerator / denominator; Δ = numerator − denominator)")
    if whole_m is not None and frame_m is not None:
        phases = whole_m.info["phases"]
        print(
            f"train_theme {whole_m.seconds:.1f} s: frame {100 * phases['frame'] / whole_m.seconds:.0f} %, "
            f"train_scorer {100 * phases['train_scorer'] / whole_m.seconds:.0f} %, "
            f"baselines+evaluation+report {100 * phases['baselines+evaluation+report'] / whole_m.seconds:.0f} %"
        )
    payload.update(rows=rows + notes, quality=quality, ratios=ratios, load_average_end=load_average())
    return payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, action="append", help="world size(s); default 100000")
    parser.add_argument("--train-snapshots", type=int, default=12, help="month-end snapshots in the training split")
    parser.add_argument(
        "--variant", action="append", help=f"THREADS:RATE for (b), repeatable; default {' '.join(DEFAULT_VARIANTS)}"
    )
    parser.add_argument("--reuse-frame", action="store_true", help="skip (a) when its cached frame exists")
    parser.add_argument("--skip-whole", action="store_true", help="skip (c), the whole train_theme")
    parser.add_argument("--rss-limit", type=float, default=14_000, help="kill a run above this RSS (MiB)")
    parser.add_argument("--tag", help="suffix of the results file name (keeps earlier results)")
    args = parser.parse_args()
    print(f"load average {load_average()}")
    for n in args.enterprises or [100_000]:
        began = time.perf_counter()
        payload = bench(n, args)
        payload["bench_seconds"] = time.perf_counter() - began
        path = write_results(f"bench_train-world-{n}" + (f"-{args.tag}" if args.tag else ""), payload)
        print(f"results: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
