"""Benchmark the synthetic world generator: seconds, rows per table, rows/s and peak RSS.

    python benchmarks/bench_generate.py --enterprises 100000
    python benchmarks/bench_generate.py --enterprises 1000000 --keep /tmp/world_1m

Every generation runs in a fresh subprocess (`benchmarks.common.run_isolated`), so its peak RSS is its own. A
reference run at the demo size (20,000 firms) is measured in the same invocation and the per-firm cost of the
target size is printed as a ratio against it (the project's benchmarks print ratios, never timed assertions).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import Measurement, load_average, print_table, run_isolated, write_results

REFERENCE_SIZE = 20_000
PRELOAD = ("numpy", "polars", "pyarrow.parquet", "rich.progress", "features.synthetic")


def generate(out_dir: str, n_enterprises: int, seed: int) -> dict[str, Any]:
    """Child body: generate one world and return its rows per table."""
    import time

    from features.synthetic import generate_world

    cpu = time.process_time()
    summary = generate_world(Path(out_dir), n_enterprises=n_enterprises, seed=seed, progress=False)
    # CPU time (all threads) next to wall time: on a shared machine the wall time depends on the load.
    return {"rows": summary.rows, "cpu_seconds": time.process_time() - cpu}


def measure(n_enterprises: int, out_dir: Path, seed: int) -> Measurement:
    """Generate a world of `n_enterprises` firms in a fresh interpreter."""
    return run_isolated(generate, str(out_dir), n_enterprises, seed, preload=PRELOAD, label=f"{n_enterprises:,}")


def report(m: Measurement, reference: Measurement | None) -> dict[str, Any]:
    """Print rows and rows/s per table for one run; return its summary row."""
    rows: dict[str, int] = m.info["rows"]
    total = sum(rows.values())
    print_table(
        [{"table": name, "rows": n, "rows/s": round(n / m.seconds)} for name, n in rows.items()]
        + [{"table": "all tables", "rows": total, "rows/s": round(total / m.seconds)}],
        title=f"{m.label} enterprises: {m.seconds:.1f} s ({m.info['cpu_seconds']:.1f} s CPU), "
        f"peak RSS {m.peak_rss_mib:,.0f} MiB",
    )
    summary = {
        "enterprises": m.label,
        "seconds": m.seconds,
        "CPU seconds": m.info["cpu_seconds"],
        "peak RSS MiB": m.peak_rss_mib,
        "rows": total,
        "rows/s": round(total / m.seconds),
        "load before": m.load_before,
    }
    if reference is not None:
        per_firm = m.seconds / int(m.label.replace(",", ""))
        summary["s/firm vs 20k"] = per_firm / (reference.seconds / REFERENCE_SIZE)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, default=None, help="write the world here and keep it")
    parser.add_argument("--no-reference", action="store_true", help="skip the 20,000-firm reference run")
    parser.add_argument("--save", action="store_true", help="also write benchmarks/results/bench_generate-N.json")
    args = parser.parse_args()
    print(f"load average: {load_average()}")
    summaries = []
    with tempfile.TemporaryDirectory(prefix="bench_generate_") as tmp:
        reference = None
        if not args.no_reference:
            reference = measure(REFERENCE_SIZE, Path(tmp) / "reference", args.seed)
            summaries.append(report(reference, None))
        target = args.keep if args.keep is not None else Path(tmp) / "world"
        summaries.append(report(measure(args.enterprises, target, args.seed), reference))
    columns = [
        "enterprises",
        "seconds",
        "CPU seconds",
        "peak RSS MiB",
        "rows",
        "rows/s",
        "s/firm vs 20k",
        "load before",
    ]
    print_table(summaries, columns=columns, title="summary")
    if args.save:
        path = write_results(f"bench_generate-{args.enterprises}", {"load": load_average(), "runs": summaries})
        print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
