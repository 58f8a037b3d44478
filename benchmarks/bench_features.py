"""Time the polars feature engine against a plain pandas implementation of the same prepaid feature set.

    python benchmarks/bench_features.py --enterprises 100000 --threads 1 --threads 2
    python benchmarks/bench_features.py --enterprises 1000000
    python benchmarks/bench_features.py --data DIR          # an existing world folder
    python benchmarks/bench_features.py --enterprises 1000000 --profile   # time every block and primitive
    python benchmarks/bench_features.py --enterprises 1000000 --repeat 3  # the fastest of 3 runs of each

The synthetic world is generated once per size and cached in workspace/bench/world-<N>/ (reused when its
manifest.json exists). Every measurement runs in a fresh subprocess, so its peak RSS is its own:

  (a) polars engine, one as-of date (2026-06-30), for each `--threads` value (POLARS_MAX_THREADS in the child);
  (b) pandas reference (benchmarks/pandas_reference.py), one date;
  (c) polars engine, 12 month-end dates 2025-07-31 ... 2026-06-30 in one call;
  (d) pandas reference for the same 12 dates (files read once, then 12 computations); when (b) took longer than
      `--pandas-limit` seconds, (d) is estimated as load + 12 x compute from (b) and marked as an estimate.

Throughput is input rows (all rows of the six tables the feature set reads) per second. Results are also written
to benchmarks/results/bench_features-<N>.json. With `--repeat R` each measurement runs R times and the fastest is
reported (other load on 2 shared cores only ever adds time; single runs of the same build here vary by 25 %). The
one-date and 12-date runs take turns, so their ratio compares runs made under the same conditions.
tests/benchmarks/test_pandas_reference.py checks that (a) and (b) compute the same frame.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
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

ONE_DATE = date(2026, 6, 30)
INPUT_TABLES = (
    "enterprises",
    "legal_rep_history",
    "abnormal_list",
    "complaints",
    "prepaid_transactions",
    "escrow_balances",
)
GIB = 1024.0  # MiB
# Imported in the child before the clock starts: timings exclude library imports. `features` comes first: it sets
# polars' allocator options, which polars reads when it is imported.
POLARS_MODULES = ("features", "polars", "features.assembly", "features.blocks.prepaid", "features.store")
PANDAS_MODULES = ("pandas", "pyarrow.parquet", "benchmarks.pandas_reference")


def month_ends(last: date = ONE_DATE, count: int = 12) -> list[date]:
    """`count` month-end dates ending with `last` (a month end)."""
    ends = []
    first_of_next = last + timedelta(days=1)
    for _ in range(count):
        ends.append(first_of_next - timedelta(days=1))
        previous = first_of_next - timedelta(days=1)
        first_of_next = previous.replace(day=1)
    return sorted(ends)


# --- functions run in the child processes (arguments and results are JSON) ---------------------------------------


def generate(out_dir: str, n_enterprises: int, seed: int) -> dict[str, Any]:
    from features.synthetic import generate_world

    summary = generate_world(Path(out_dir), n_enterprises=n_enterprises, seed=seed, progress=True)
    return {"rows": summary.rows}


def polars_engine(data_dir: str, dates: list[str]) -> dict[str, Any]:
    from features.assembly import build_feature_frame
    from features.blocks.prepaid import PREPAID_FEATURE_SET
    from features.store import TableStore

    store = TableStore.from_folder(Path(data_dir))
    frame = build_feature_frame(PREPAID_FEATURE_SET, store, [date.fromisoformat(d) for d in dates])
    return {"rows": frame.height, "columns": frame.width}


def pandas_reference(data_dir: str, dates: list[str]) -> dict[str, Any]:
    from benchmarks.pandas_reference import load_tables, pandas_features

    began = time.perf_counter()
    tables = load_tables(Path(data_dir))
    load = time.perf_counter() - began
    computes, rows = [], 0
    for d in dates:
        began = time.perf_counter()
        rows += len(pandas_features(Path(data_dir), date.fromisoformat(d), tables))
        computes.append(time.perf_counter() - began)
    return {"rows": rows, "load_seconds": load, "compute_seconds": computes}


def profile_engine(data_dir: str, dates: list[str]) -> dict[str, Any]:
    """Time each block (exclusive of blocks it depends on), each AsOf primitive (inclusive, with call counts) and
    each first read of a table inside one build; record the process's peak RSS after every block."""
    import resource

    import psutil

    from features import asof
    from features.assembly import build_feature_frame
    from features.blocks.prepaid import PREPAID_FEATURE_SET
    from features.store import TableStore

    def peak_mib() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    process = psutil.Process()
    blocks: dict[str, dict[str, float]] = {}
    nested: list[float] = []
    primitives: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])  # inclusive seconds, calls
    loads: dict[str, float] = {}
    original_block, original_table = asof.AsOf.block, asof.AsOf.table

    def timed_block(self: asof.AsOf, name: str, compute: Any) -> Any:
        if name in self._cache:
            return self._cache[name]
        nested.append(0.0)
        began = time.perf_counter()
        result = original_block(self, name, compute)
        inclusive = time.perf_counter() - began
        children = nested.pop()
        rss = process.memory_info().rss / 2**20
        blocks[name] = {"seconds": inclusive - children, "peak_mib": peak_mib(), "rss_mib": rss}
        # Progress as we go: a run killed for memory still shows how far it got.
        print(f"    {name}: {inclusive - children:.2f} s, peak {peak_mib():,.0f} MiB, RSS {rss:,.0f} MiB", flush=True)
        if nested:
            nested[-1] += inclusive
        return result

    def timed_table(self: asof.AsOf, name: str) -> Any:
        cached = getattr(self, "_tables", {})
        if name in cached:
            return original_table(self, name)
        began = time.perf_counter()
        result = original_table(self, name)
        loads[name] = time.perf_counter() - began
        return result

    def wrap(method_name: str) -> None:
        method = getattr(asof.AsOf, method_name)

        def timed(self: asof.AsOf, *args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                entry = primitives[method_name]
                entry[0] += time.perf_counter() - began
                entry[1] += 1

        setattr(asof.AsOf, method_name, timed)

    asof.AsOf.block = timed_block  # type: ignore[method-assign]
    asof.AsOf.table = timed_table  # type: ignore[method-assign]
    for name in ("prefetch", "window_sums", "latest", "active_counts", "range_sums", "carry_forward"):
        wrap(name)
    store = TableStore.from_folder(Path(data_dir))
    began = time.perf_counter()
    frame = build_feature_frame(PREPAID_FEATURE_SET, store, [date.fromisoformat(d) for d in dates])
    total = time.perf_counter() - began
    return {
        "total": total,
        "blocks": blocks,
        "primitives": dict(primitives),
        "table_loads": loads,
        "peak_after_blocks_mib": max(b["peak_mib"] for b in blocks.values()),
        "peak_mib": peak_mib(),
        "output_mib": frame.estimated_size() / 2**20,
    }


# --- the benchmark ------------------------------------------------------------------------------------------------


def world_dir(n: int, seed: int) -> Path:
    """The cached world of `n` enterprises, generated when absent."""
    folder = CACHE / f"world-{n}"
    if (folder / "manifest.json").exists():
        print(f"reusing {folder}")
        return folder
    print(f"generating {n:,} enterprises into {folder} ...")
    folder.parent.mkdir(parents=True, exist_ok=True)
    m = run_isolated(generate, str(folder), n, seed, label="generate")
    print(f"generated in {m.seconds:.1f} s (peak RSS {m.peak_rss_mib:,.0f} MiB)")
    return folder


def input_rows(folder: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    return {t: pq.ParquetFile(folder / f"{t}.parquet").metadata.num_rows for t in INPUT_TABLES}


def row(m: Measurement, what: str, rows: int, dates: int, note: str = "") -> dict[str, Any]:
    return {
        "run": what,
        "dates": dates,
        "seconds": m.seconds,
        "CPU s": m.cpu_seconds,
        "peak RSS MiB": m.peak_rss_mib,
        "RSS after imports": m.baseline_rss_mib,
        "input rows/s": int(rows / m.seconds) if m.seconds else None,
        "load": m.load_before,
        "runs (s)": " ".join(f"{s:.1f}" for s in m.info.get("all_seconds", [])),
        "note": note,
    }


def bench(
    folder: Path,
    threads: list[int],
    pandas_limit: float,
    skip_pandas: bool,
    rss_limit: float,
    twelve_dates: bool,
    repeat: int,
) -> dict[str, Any]:
    counts = input_rows(folder)
    total_rows = sum(counts.values())
    print_table([{"table": t, "rows": n} for t, n in counts.items()] + [{"table": "total", "rows": total_rows}])
    one, twelve = [ONE_DATE.isoformat()], [d.isoformat() for d in month_ends()]
    rows: list[dict[str, Any]] = []

    def run_once(func: Any, dates: list[str], what: str, env: dict[str, str], modules: tuple[str, ...]) -> Any:
        try:
            m = run_isolated(func, str(folder), dates, env=env, preload=modules, label=what, rss_limit_mib=rss_limit)
        except MemoryLimitExceeded:
            print(f"  {what}: killed (RSS above {rss_limit:,.0f} MiB or machine low on memory)")
            rows.append(
                {
                    "run": what,
                    "dates": len(dates),
                    "note": f"KILLED: RSS above {rss_limit:,.0f} MiB or machine low on memory",
                }
            )
            return None
        print(f"  {what}: {m.seconds:.2f} s, CPU {m.cpu_seconds:.2f} s, peak {m.peak_rss_mib:,.0f} MiB")
        return m

    def measure(jobs: list[tuple[Any, list[str], str, dict[str, str], tuple[str, ...]]]) -> list[Any]:
        """Each job `repeat` times, the jobs taking turns: a ratio between them then compares runs made under the
        same conditions (shared cores drift over minutes). The fastest run of each (timeit's rule: other load on
        shared cores only ever adds time); None for a job killed for its memory."""
        runs: list[list[Any]] = [[] for _ in jobs]
        for _ in range(repeat):
            for job, job_runs in zip(jobs, runs, strict=True):
                if None not in job_runs:  # a job killed once is not run again
                    job_runs.append(run_once(*job))
        fastest = []
        for job_runs in runs:
            if None in job_runs:
                fastest.append(None)
                continue
            best = min(job_runs, key=lambda m: m.seconds)
            best.info["all_seconds"] = [m.seconds for m in job_runs]
            fastest.append(best)
        return fastest

    polars_one: dict[int, Measurement | None] = {}
    polars_twelve: dict[int, Measurement | None] = {}
    for n in threads:
        env = {"POLARS_MAX_THREADS": str(n)}
        jobs = [(polars_engine, one, f"(a) polars, {n} thread(s)", env, POLARS_MODULES)]
        if twelve_dates:
            jobs.append((polars_engine, twelve, f"(c) polars, {n} thread(s)", env, POLARS_MODULES))
        measured = measure(jobs)
        polars_one[n], polars_twelve[n] = measured[0], measured[1] if twelve_dates else None
        for m, (_, dates, what, _, _) in zip(measured, jobs, strict=True):
            if m is not None:
                rows.append(row(m, what, total_rows, len(dates)))
    pandas_one = pandas_twelve = None
    twelve_seconds = None
    estimated = False
    if not skip_pandas:
        pandas_one = measure([(pandas_reference, one, "(b) pandas", {}, PANDAS_MODULES)])[0]
        if pandas_one is not None:
            load, compute = pandas_one.info["load_seconds"], pandas_one.info["compute_seconds"][0]
            rows.append(row(pandas_one, "(b) pandas", total_rows, 1, f"read {load:.1f} s + compute {compute:.1f} s"))
            if not twelve_dates:
                pass
            elif pandas_one.seconds > pandas_limit:
                estimated = True
                twelve_seconds = load + 12 * compute
                rows.append(
                    {
                        "run": "(d) pandas x12 ESTIMATE",
                        "dates": 12,
                        "seconds": twelve_seconds,
                        "input rows/s": int(total_rows / twelve_seconds),
                        "note": f"NOT RUN: estimated as read once + 12 x compute of (b); 12 x (b) would be "
                        f"{12 * pandas_one.seconds:.1f} s",
                    }
                )
            else:
                pandas_twelve = measure([(pandas_reference, twelve, "(d) pandas x12", {}, PANDAS_MODULES)])[0]
                if pandas_twelve is not None:
                    twelve_seconds = pandas_twelve.seconds
                    rows.append(row(pandas_twelve, "(d) pandas x12", total_rows, 12, "read once + 12 computations"))
    print_table(rows, title=f"{folder.name}: {total_rows:,} input rows; load now {load_average()}")

    ratios = []
    for n in threads:
        a, c = polars_one[n], polars_twelve[n]
        entry: dict[str, Any] = {"threads": n}
        if a is not None and c is not None:
            entry["polars-12 / polars-1"] = c.seconds / a.seconds
        if a is not None and pandas_one is not None:
            entry["pandas / polars (1 date)"] = pandas_one.seconds / a.seconds
            entry["same, CPU time"] = pandas_one.cpu_seconds / a.cpu_seconds
        if c is not None and twelve_seconds is not None:
            entry["12x pandas / polars-12"] = twelve_seconds / c.seconds
        if a is not None and c is not None and pandas_one is not None and twelve_seconds is not None:
            entry["targets"] = _targets(a, c, pandas_one.seconds, twelve_seconds)
        ratios.append(entry)
    print_table(ratios, title="ratios (wall time)" + (" -- 12x pandas is an ESTIMATE" if estimated else ""))
    return {
        "world": str(folder),
        "input_rows": counts,
        "load_average_end": load_average(),
        "rss_limit_mib": rss_limit,
        "polars_one": polars_one,
        "polars_twelve": polars_twelve,
        "pandas_one": pandas_one,
        "pandas_twelve": pandas_twelve,
        "pandas_twelve_seconds": twelve_seconds,
        "pandas_twelve_estimated": estimated,
        "rows": rows,
        "ratios": ratios,
    }


def _targets(one: Measurement, twelve: Measurement, pandas_one: float, pandas_twelve: float) -> str:
    checks = [
        ("1 date >=4x pandas", pandas_one / one.seconds >= 4),
        ("1 date peak <4 GiB", one.peak_rss_mib < 4 * GIB),  # 12 dates hold 12x the output frame
        ("12 dates >=10x", pandas_twelve / twelve.seconds >= 10),
        ("12 dates <3x one", twelve.seconds < 3 * one.seconds),
    ]
    return ", ".join(f"{name}: {'ok' if ok else 'MISSED'}" for name, ok in checks)


def profile(folder: Path, threads: int, which: list[int], rss_limit: float) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for n_dates in which:
        dates = [ONE_DATE.isoformat()] if n_dates == 1 else [d.isoformat() for d in month_ends()[-n_dates:]]
        env = {"POLARS_MAX_THREADS": str(threads)}
        try:
            m = run_isolated(
                profile_engine, str(folder), dates, env=env, preload=POLARS_MODULES, rss_limit_mib=rss_limit
            )
        except MemoryLimitExceeded as error:
            print(f"profile, {n_dates} date(s): {error}")
            result[f"{n_dates} dates"] = {"killed": str(error)}
            continue
        info = m.info
        total = info["total"]
        ordered = sorted(info["blocks"].items(), key=lambda kv: -kv[1]["seconds"])
        other = total - sum(b["seconds"] for b in info["blocks"].values())
        print_table(
            [
                {
                    "block": name,
                    "seconds": b["seconds"],
                    "share %": 100 * b["seconds"] / total,
                    "peak MiB so far": b["peak_mib"],
                    "RSS after": b["rss_mib"],
                }
                for name, b in ordered
            ]
            + [{"block": "(assembly: joins, fills, decode)", "seconds": other, "share %": 100 * other / total}],
            title=f"profile, {n_dates} date(s), {threads} thread(s): build {total:.2f} s, "
            f"peak {m.peak_rss_mib:,.0f} MiB (after the last block {info['peak_after_blocks_mib']:,.0f} MiB; "
            f"output frame {info['output_mib']:,.0f} MiB); load {m.load_before:.2f}",
        )
        print_table(
            [
                {"primitive (inclusive)": p, "calls": int(c), "seconds": s, "share %": 100 * s / total}
                for p, (s, c) in sorted(info["primitives"].items(), key=lambda kv: -kv[1][0])
            ]
            + [
                {"primitive (inclusive)": f"first read of {t}", "calls": 1, "seconds": s, "share %": 100 * s / total}
                for t, s in info["table_loads"].items()
            ]
        )
        result[f"{n_dates} dates"] = {"measurement": m}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, action="append", help="world size(s); default 100000")
    parser.add_argument("--data", type=Path, help="use this world folder instead of generating one")
    parser.add_argument("--threads", type=int, action="append", help="POLARS_MAX_THREADS value(s); default 2")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pandas-limit", type=float, default=60.0, help="estimate (d) when (b) is slower (s)")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--profile", action="store_true", help="time each block and primitive instead")
    parser.add_argument(
        "--profile-dates", type=int, action="append", help="number of as-of dates to profile (default 1 and 12)"
    )
    parser.add_argument("--rss-limit", type=float, default=14_000, help="kill a run above this RSS (MiB)")
    parser.add_argument("--no-twelve", action="store_true", help="skip the 12-date runs (c) and (d)")
    parser.add_argument("--repeat", type=int, default=1, help="run each measurement this many times, keep the fastest")
    args = parser.parse_args()
    threads = args.threads or [2]
    print(f"load average {load_average()}")
    worlds = [args.data] if args.data else [world_dir(n, args.seed) for n in (args.enterprises or [100_000])]
    for folder in worlds:
        if args.profile:
            payload = profile(folder, threads[-1], args.profile_dates or [1, 12], args.rss_limit)
            write_results(f"profile_features-{folder.name}", payload)
            continue
        began = time.perf_counter()
        payload = bench(
            folder, threads, args.pandas_limit, args.skip_pandas, args.rss_limit, not args.no_twelve, args.repeat
        )
        payload["bench_seconds"] = time.perf_counter() - began
        path = write_results(f"bench_features-{folder.name}", payload)
        print(f"results: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
