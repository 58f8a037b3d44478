"""Exact TreeSHAP contributions: LightGBM pred_contrib vs shap.TreeExplainer vs the table method (numba), and the
model complexity trade-off (precision at the review budget against explanation cost).

    python benchmarks/bench_explain.py --world /tmp/ws/validated/2026-06-30/accepted --cutoff 2026-06-30
    python benchmarks/bench_explain.py --world DIR --quick          # 10k rows only, fewer complexity variants

The prepaid-card training frame (monthly snapshots, out-of-time split) is built once from the validated world and
cached in workspace/bench/explain/. Models:

  (a) "default": the shipped ModelParams (15 leaves, depth 6, early stopping), trained by risk_models.training;
  (b) "big-d6": 200 trees, 63 leaves, depth 6;
  (c) "big": 200 trees, 63 leaves, no depth limit (LightGBM's default; paths up to ~24 nodes deep).

Every explanation measurement runs in a fresh subprocess (benchmarks.common.run_isolated) on the first N rows of the
training frame (rows repeated when N exceeds the frame): a cold call on 1,000 rows first (booster parsing, and for
"fast" the table build and numba cache load: `first_1k_s`), then the measured call on all N rows (`seconds`,
including feature selection, booster parsing and the additivity check, as in production); peak RSS is the child's
and `delta_mib` its growth over the RSS before the calls. When a 100k run would take longer than `--budget`
seconds at the 10k rate, its rate is taken from the 10k run (marked estimated). Values of the three methods are
compared on 10k rows (max |difference|).

`--paired-only` (after a full run, reusing its models) alternates the three methods in one process, 5 times, and
reports median rates of the end-to-end call and of the explainer alone: a ratio that survives a shared machine's
drifting load better than separate runs.

The complexity table trains num_leaves × max_depth × trees variants (trees: early stopping up to 400 rounds, or a
fixed 100/200/400) on the train split and reports test precision@budget (risk_models.metrics.at_budget, budget from
the spec) and explanation rows/s (1 thread) for LightGBM and the table method. Results: benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import CACHE as BENCH_CACHE
from benchmarks.common import load_average, print_table, run_isolated, write_results

CACHE = BENCH_CACHE / "explain"
PRELOAD = ("numpy", "polars", "lightgbm", "shap", "risk_models.explain", "risk_models.treeshap_fast")
METHODS = ("lightgbm", "shap", "fast")


# ----------------------------------------------------------------------------------------------- data and models
def training_frame(world: Path, cutoff: date) -> Any:
    """The prepaid training frame, built once and cached as parquet."""
    import polars as pl

    from risk_models.dataset import TrainingFrame, build_training_frame
    from risk_models.themes.prepaid_cards import SPEC

    path = CACHE / f"frame-{cutoff.isoformat()}.parquet"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        info = json.loads(meta.read_text())
        return TrainingFrame(pl.read_parquet(path), info["feature_names"], info["categorical"], cutoff)
    from features.store import TableStore

    began = time.perf_counter()
    data = build_training_frame(SPEC, TableStore.from_folder(world), cutoff)
    print(f"training frame: {data.frame.height:,} rows in {time.perf_counter() - began:.1f} s")
    CACHE.mkdir(parents=True, exist_ok=True)
    data.frame.write_parquet(path)
    meta.write_text(json.dumps({"feature_names": data.feature_names, "categorical": data.categorical}))
    return data


def train_variant(data: Any, leaves: int, depth: int, trees: int | None) -> Any:
    """A scorer with the given shape: `trees=None` uses the shipped early stopping (up to 400 rounds)."""
    import lightgbm as lgb

    from risk_models.labels import LABEL
    from risk_models.scorer import Calibration, Scorer
    from risk_models.themes.prepaid_cards import SPEC
    from risk_models.training import category_codes, lightgbm_params, train_scorer

    params = replace(SPEC.model, num_leaves=leaves, max_depth=depth)
    if trees is None:
        return train_scorer(data, params)
    train = data.part("train")
    draft = Scorer("", tuple(data.feature_names), category_codes(train, data.categorical), Calibration(1.0, 0.0))
    labels = train[LABEL].to_numpy()
    dataset = lgb.Dataset(
        draft.matrix(train),
        labels,
        feature_name=list(data.feature_names),
        categorical_feature=[data.feature_names.index(c) for c in data.categorical],
    )
    booster = lgb.train(lightgbm_params(params, float(labels.mean())), dataset, num_boost_round=trees)
    return Scorer(booster.model_to_string(), draft.feature_names, draft.categories, draft.calibration)


def save_model(scorer: Any, name: str) -> Path:
    from risk_models.scorer import metadata_json

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"model-{name}.txt"
    path.write_text(scorer.model_text)
    path.with_suffix(".json").write_text(metadata_json(scorer))
    return path


def model_shape(model_text: str) -> dict[str, Any]:
    """Trees, mean leaves and the deepest leaf of a LightGBM text model."""
    import lightgbm as lgb

    dump = lgb.Booster(model_str=model_text).dump_model()["tree_info"]

    def depth(node: dict[str, Any]) -> int:
        if "split_index" not in node:
            return 0
        return 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    return {
        "trees": len(dump),
        "mean_leaves": sum(t["num_leaves"] for t in dump) / max(len(dump), 1),
        "max_depth_seen": max((depth(t["tree_structure"]) for t in dump), default=0),
    }


def test_precision(data: Any, scorer: Any) -> float:
    import polars as pl

    from features.asof import ENTITY
    from features.assembly import AS_OF
    from risk_models.labels import LABEL
    from risk_models.metrics import SCORE, at_budget
    from risk_models.themes.prepaid_cards import SPEC

    test = data.part("test")
    scored = test.select(ENTITY, AS_OF, LABEL).with_columns(pl.Series(SCORE, scorer.raw_score(test)))
    return at_budget(scored, SPEC.policy.budget_per_run)["precision"]


def rows_file(data: Any, rows: int) -> Path:
    """The first `rows` rows of the frame (repeated when needed), saved for the children."""
    import polars as pl

    path = CACHE / f"rows-{rows}.parquet"
    if not path.exists():
        frame = data.frame
        copies = -(-rows // frame.height)
        pl.concat([frame] * copies).head(rows).write_parquet(path)
    return path


# ------------------------------------------------------------------------------------------------ child functions
def explain_in_child(model_path: str, rows_path: str, method: str, threads: int) -> dict[str, Any]:
    """Run in a fresh process: a cold call on 1,000 rows (booster parsing, table build / numba cache load), then the
    measured call on all rows; with the RSS before the calls."""
    import json as _json

    import polars as pl
    import psutil

    from risk_models.explain import contributions
    from risk_models.scorer import Scorer

    meta = _json.loads(Path(model_path).with_suffix(".json").read_text())
    scorer = Scorer.from_parts(Path(model_path).read_text(), meta, num_threads=threads)
    frame = pl.read_parquet(rows_path)
    rss = psutil.Process().memory_info().rss
    began = time.perf_counter()
    contributions(scorer, frame.head(1000), method, threads)  # type: ignore[arg-type]
    cold = time.perf_counter() - began
    began = time.perf_counter()
    result = contributions(scorer, frame, method, threads)  # type: ignore[arg-type]
    warm = time.perf_counter() - began
    return {
        "first_s": cold,
        "warm_s": warm,
        "rss_before_mib": rss / 2**20,
        "max_additivity_error": result.max_additivity_error,
        "load": os.getloadavg()[0],
    }


def compare_in_child(model_path: str, rows_path: str) -> dict[str, Any]:
    """Max |difference| between the methods' values (and base values) on the same rows."""
    import json as _json

    import numpy as np
    import polars as pl

    from risk_models.explain import contributions
    from risk_models.scorer import Scorer

    meta = _json.loads(Path(model_path).with_suffix(".json").read_text())
    scorer = Scorer.from_parts(Path(model_path).read_text(), meta)
    frame = pl.read_parquet(rows_path)
    out = {m: contributions(scorer, frame, m) for m in METHODS}  # type: ignore[arg-type]
    ref = out["lightgbm"]
    return {f"lightgbm_vs_{m}": float(np.max(np.abs(ref.values - out[m].values))) for m in ("shap", "fast")} | {
        "base_diff_fast": abs(ref.base_value - out["fast"].base_value),
        "max_additivity_error": max(c.max_additivity_error for c in out.values()),
    }


def paired_in_child(model_path: str, rows_path: str, repeats: int) -> dict[str, Any]:
    """Alternate the methods on the same rows in one process (so load drifts hit them alike); median seconds of the
    end-to-end call (`contributions`) and of the explainer alone (LightGBM pred_contrib / shap / table kernel)."""
    import json as _json
    import statistics

    import polars as pl
    import shap

    from risk_models.explain import _ThreadedBooster, contributions
    from risk_models.scorer import Scorer
    from risk_models.treeshap_fast import compile_model, shap_values

    meta = _json.loads(Path(model_path).with_suffix(".json").read_text())
    scorer = Scorer.from_parts(Path(model_path).read_text(), meta)
    frame = pl.read_parquet(rows_path)
    matrix, booster, tables = scorer.matrix(frame), scorer.booster(), compile_model(scorer.model_text)
    threaded = _ThreadedBooster(scorer.model_text, 1)  # shap calls predict without a thread count
    explainer = shap.TreeExplainer(threaded, feature_perturbation="tree_path_dependent")
    core = {
        "lightgbm": lambda: booster.predict(matrix, pred_contrib=True, num_threads=1),
        "shap": lambda: explainer.shap_values(matrix, check_additivity=False),
        "fast": lambda: shap_values(tables, matrix, 1),
    }
    timings: dict[str, list[float]] = {f"{kind}_{m}": [] for kind in ("call", "core") for m in METHODS}
    loads = []
    for _ in range(repeats):
        for method in METHODS:
            began = time.perf_counter()
            contributions(scorer, frame, method)  # type: ignore[arg-type]
            timings[f"call_{method}"].append(time.perf_counter() - began)
            began = time.perf_counter()
            core[method]()
            timings[f"core_{method}"].append(time.perf_counter() - began)
        loads.append(os.getloadavg()[0])
    medians = {k: statistics.median(v) for k, v in timings.items()}
    return {"rows": frame.height, "median_s": medians, "load_min": min(loads), "load_max": max(loads)}


# ------------------------------------------------------------------------------------------------------- sections
def method_table(
    models: dict[str, Path], sizes: list[int], threads: list[int], data: Any, budget_s: float
) -> list[dict[str, Any]]:
    """Every model × size × method × threads in its own process. A larger size whose estimated time (from the
    previous size's rate) exceeds `budget_s` is not run: its rate is reported from the smaller size, marked."""
    rows: list[dict[str, Any]] = []
    for name, model in models.items():
        for method in METHODS:
            for t in threads:
                rate = None
                for size in sizes:
                    if rate is not None and size / rate > budget_s:
                        rows.append(rows[-1] | {"rows": size, "estimated": True, "peak_mib": None, "delta_mib": None})
                        print(_line(rows[-1]))
                        continue
                    m = run_isolated(
                        explain_in_child,
                        str(model),
                        str(rows_file(data, size)),
                        method,
                        t,
                        preload=PRELOAD,
                        label=f"{name}/{method}/{size}/{t}",
                        env={"NUMBA_NUM_THREADS": "2"},
                    )
                    info = m.info
                    rate = size / info["warm_s"]
                    rows.append(
                        {
                            "model": name,
                            "rows": size,
                            "method": method,
                            "threads": t,
                            "rows_per_s": round(rate),
                            "seconds": info["warm_s"],
                            "first_1k_s": info["first_s"],
                            "peak_mib": m.peak_rss_mib,
                            "delta_mib": m.peak_rss_mib - info["rss_before_mib"],
                            "load": m.load_before,
                            "max_err": info["max_additivity_error"],
                            "estimated": False,
                        }
                    )
                    print(_line(rows[-1]))
    return rows


def _line(row: dict[str, Any]) -> str:
    memory = (
        "estimated from the smaller size"
        if row["estimated"]
        else (f"peak {row['peak_mib']:.0f} MiB (+{row['delta_mib']:.0f})")
    )
    return (
        f"{row['model']:<8} {row['rows']:>7,} {row['method']:<9} {row['threads']}t  {row['rows_per_s']:>9,} rows/s  "
        f"{row['seconds']:.2f}s (cold 1k rows {row['first_1k_s']:.2f}s)  {memory}  load {row['load']:.1f}"
    )


def paired_table(models: dict[str, Path], data: Any, rows: int, repeats: int) -> list[dict[str, Any]]:
    table = []
    for name, model in models.items():
        size = rows if name != "big" else rows // 10  # the unconstrained model is ~100x slower to explain
        info = run_isolated(paired_in_child, str(model), str(rows_file(data, size)), repeats, preload=PRELOAD).info
        med = info["median_s"]
        row: dict[str, Any] = {"model": name, "rows": info["rows"]}
        for kind in ("call", "core"):
            for method in METHODS:
                row[f"{kind}_{method}_rows_s"] = round(info["rows"] / med[f"{kind}_{method}"])
            row[f"{kind}_speedup_fast"] = med[f"{kind}_lightgbm"] / med[f"{kind}_fast"]
        row["load"] = f"{info['load_min']:.1f}-{info['load_max']:.1f}"
        table.append(row)
        print(row)
    return table


def complexity_table(data: Any, variants: list[tuple[int, int, int | None]], rows: int) -> list[dict[str, Any]]:
    rows_path = rows_file(data, rows)
    table = []
    for leaves, depth, trees in variants:
        began = time.perf_counter()
        scorer = train_variant(data, leaves, depth, trees)
        fit_s = time.perf_counter() - began
        name = f"l{leaves}-d{depth}-t{trees or 'es'}"
        model = save_model(scorer, name)
        shape = model_shape(scorer.model_text)
        row: dict[str, Any] = {
            "leaves": leaves,
            "max_depth": depth,
            "trees_setting": trees or "early stop",
            "trees": shape["trees"],
            "depth_seen": shape["max_depth_seen"],
            "fit_s": fit_s,
            "precision@budget": test_precision(data, scorer),
        }
        for method in ("lightgbm", "fast"):
            try:
                m = run_isolated(explain_in_child, str(model), str(rows_path), method, 1, preload=PRELOAD)
                row[f"{method}_rows_s"] = round(rows / m.info["warm_s"])
            except RuntimeError:
                row[f"{method}_rows_s"] = None  # e.g. the table method refusing very deep leaves
        row["load"] = os.getloadavg()[0]
        table.append(row)
        print(
            f"{name:<16} trees {row['trees']:>3}  precision@budget {row['precision@budget']:.3f}  "
            f"lightgbm {row['lightgbm_rows_s']} rows/s  fast {row['fast_rows_s']} rows/s  load {row['load']:.1f}"
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", type=Path, required=True, help="a validated world folder (accepted tables)")
    parser.add_argument("--cutoff", type=date.fromisoformat, default=date(2026, 6, 30))
    parser.add_argument("--quick", action="store_true", help="10k rows and a small complexity grid")
    parser.add_argument("--skip-methods", action="store_true")
    parser.add_argument("--budget", type=float, default=240.0, help="max estimated seconds for one larger run")
    parser.add_argument("--skip-complexity", action="store_true")
    parser.add_argument("--paired-only", action="store_true", help="only the paired (alternating) comparison")
    args = parser.parse_args()
    print(f"load before: {load_average()}")
    data = training_frame(args.world, args.cutoff)
    sizes = [10_000] if args.quick else [10_000, 100_000]
    payload: dict[str, Any] = {"load_before": load_average(), "frame_rows": data.frame.height}
    if args.paired_only:
        models = {name: CACHE / f"model-{name}.txt" for name in ("default", "big-d6", "big")}
        payload["paired"] = paired_table(models, data, 10_000, 5)
        print_table(payload["paired"], title="paired: methods alternated in one process (1 thread, medians of 5)")
        print(f"results: {write_results('bench_explain-paired', payload)}")
        return
    if not args.skip_methods:
        models = {
            "default": save_model(train_variant(data, 15, 6, None), "default"),
            "big-d6": save_model(train_variant(data, 63, 6, 200), "big-d6"),
            "big": save_model(train_variant(data, 63, -1, 200), "big"),
        }
        payload["models"] = {name: model_shape(path.read_text()) for name, path in models.items()}
        payload["identical"] = {
            name: run_isolated(compare_in_child, str(path), str(rows_file(data, 10_000)), preload=PRELOAD).info
            for name, path in models.items()
        }
        print("max |difference| between methods (10k rows):", json.dumps(payload["identical"], indent=1))
        payload["methods"] = method_table(models, sizes, [1, 2], data, args.budget)
        print_table(payload["methods"], title="methods × sizes × threads (warm call; peak RSS of the child)")
    if not args.skip_complexity:
        grid: list[tuple[int, int, int | None]] = [
            (7, 6, None),
            (15, 6, None),
            (31, 6, None),
            (63, 6, None),
            (15, 4, None),
            (63, -1, None),
        ]
        grid += [(leaves, 6, trees) for leaves in (7, 15, 31, 63) for trees in (100, 200, 400)]
        if args.quick:
            grid = [(15, 6, None), (15, 6, 200), (63, 6, 200)]
        payload["complexity"] = complexity_table(data, grid, 10_000)
        print_table(payload["complexity"], title="complexity: test precision@budget vs explanation cost (1 thread)")
    payload["load_after"] = load_average()
    print(f"load after: {payload['load_after']}")
    print(f"results: {write_results('bench_explain', payload)}")


if __name__ == "__main__":
    main()
