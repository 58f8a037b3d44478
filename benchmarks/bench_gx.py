"""Time the GX suite report on a large complaints-like frame.

    python benchmarks/bench_gx.py --rows 1000000

Every path runs in a fresh subprocess (so peak RSS is that path's own): the frame is built, the process RSS is
read, then the path is timed. Paths: `to_pandas` (the conversion GX needs), `polars_rules` (the same rules as
plain polars expressions, for comparison), `riskgen_quarantine` (the shipped row-level validation with reason codes,
on typed input; `_text`: on all-text input as a CSV arrives) and `gx_suite` (`run_expectation_suite`: conversion,
validation, JSON, Data Docs).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.reference import COMPLAINT_CATEGORIES, COMPLAINT_CHANNELS
from features.tables import COMPLAINTS, MAX_AMOUNT_YUAN
from features.uscc import USCC_PATTERN, uscc_check_char

PATHS = ("to_pandas", "polars_rules", "riskgen_quarantine", "riskgen_quarantine_text", "gx_suite")


def valid_codes(count: int) -> list[str]:
    """`count` distinct valid credit codes (body `91330109` + 9 digits, then the check character)."""
    bodies = (f"91330109{i:09d}" for i in range(count))
    return [body + uscc_check_char(body) for body in bodies]


def complaints_frame(rows: int, seed: int = 7) -> pl.DataFrame:
    """A valid complaints frame: unique ids, known channels and categories, recorded on or after the event."""
    rng = np.random.default_rng(seed)
    codes = np.array(valid_codes(min(rows, 200_000) or 1))
    categories = np.array(list(COMPLAINT_CATEGORIES))
    raw = pl.DataFrame(
        {
            "complaint_id": [f"C{i:09d}" for i in range(rows)],
            "uscc": codes[rng.integers(0, len(codes), rows)],
            "channel": np.array(COMPLAINT_CHANNELS)[rng.integers(0, len(COMPLAINT_CHANNELS), rows)],
            "day": rng.integers(0, 700, rows),
            "lag": rng.integers(0, 30, rows),
            "category": categories[rng.integers(0, len(categories), rows)],
            "amount": rng.gamma(2.0, 2_000.0, rows).round(2),
            "no_amount": rng.random(rows) < 0.1,
            "no_text": rng.random(rows) < 0.2,
        }
    )
    event = pl.lit(date(2023, 1, 1)) + pl.duration(days=pl.col("day"))
    schema: Any = COMPLAINTS.schema  # polars stubs type cast() keys as a union, not str
    return raw.select(
        "complaint_id",
        "uscc",
        "channel",
        event.alias("event_at"),
        (event + pl.duration(days=pl.col("lag"))).alias("recorded_at"),
        "category",
        pl.when(~pl.col("no_amount")).then(pl.col("amount")).alias("amount"),
        pl.when(~pl.col("no_text")).then(pl.lit("预付卡退费难")).alias("text"),
    ).cast(schema)


def polars_rules(frame: pl.DataFrame) -> dict[str, int]:
    """The suite's rules as plain polars: count of violating rows per rule."""
    checks = {f"required:{c.name}": pl.col(c.name).is_null() for c in COMPLAINTS.columns if c.required}
    checks |= {f"allowed:{c.name}": ~pl.col(c.name).is_in(c.allowed) for c in COMPLAINTS.columns if c.allowed}
    checks["bounds:amount"] = ~pl.col("amount").is_between(0.0, MAX_AMOUNT_YUAN)
    checks["uscc_format:uscc"] = ~pl.col("uscc").str.contains(USCC_PATTERN)
    checks["keys_unique"] = pl.col("complaint_id").is_duplicated()
    checks["recorded_not_before_event"] = pl.col("recorded_at") < pl.col("event_at")
    counts = frame.select(expr.fill_null(False).sum().alias(rule) for rule, expr in checks.items())
    return counts.row(0, named=True)


def prepare(path: str) -> None:
    """Import what a path needs, so that import time (GX: about 3 s) is reported apart from the run."""
    import pandas  # noqa: F401

    if path == "gx_suite":
        import features.gx_suite  # noqa: F401


def run_path(path: str, frame: pl.DataFrame) -> str:
    """Run one path once and return a short outcome."""
    if path == "to_pandas":
        return f"{len(frame.to_pandas()):,} rows"
    if path == "polars_rules":
        return f"{sum(polars_rules(frame).values())} violations"
    if path.startswith("riskgen_quarantine"):
        # The shipped row-level validation: every rule, reason codes, accepted + quarantined frames. The `_text`
        # variant validates the frame as a CSV delivers it (every column text, dates and numbers parsed).
        from features.validation import validate_frame

        delivered = frame.select(pl.all().cast(pl.String)) if path.endswith("_text") else frame
        result = validate_frame(delivered, COMPLAINTS, as_of=date(2026, 6, 30))
        return f"{result.accepted.height:,} accepted, {result.quarantined.height:,} quarantined"
    from features.gx_suite import run_expectation_suite

    with tempfile.TemporaryDirectory() as out:
        report = run_expectation_suite(COMPLAINTS, frame, Path(out))
        return f"success={report.success} {report.successful}/{report.evaluated}"


def worker(path: str, rows: int) -> dict[str, object]:
    """Build the frame, then time one path; measured inside this process."""
    started = time.perf_counter()
    frame = complaints_frame(rows)
    built = time.perf_counter() - started
    started = time.perf_counter()
    prepare(path)
    imported = time.perf_counter() - started
    rss_before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    outcome = run_path(path, frame)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    return {
        "path": path,
        "rows": rows,
        "build_s": built,
        "import_s": imported,
        "seconds": seconds,
        "rss_before": rss_before,
        "peak_rss": peak,
        "outcome": outcome,
    }


def measure(path: str, rows: int) -> dict[str, object]:
    """Run `worker` in a fresh interpreter and read its JSON line."""
    command = [sys.executable, __file__, "--rows", str(rows), "--worker", path]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(results: list[dict[str, object]]) -> None:
    mb: Callable[[object], str] = lambda v: f"{int(v) / 2**20:,.0f}"  # type: ignore[call-overload]  # noqa: E731
    print(f"{'path':<14}{'rows':>11}{'import s':>10}{'seconds':>9}{'RSS before MB':>15}{'peak RSS MB':>13}  outcome")
    for r in results:
        print(
            f"{r['path']!s:<14}{r['rows']:>11,}{r['import_s']:>10.2f}{r['seconds']:>9.2f}{mb(r['rss_before']):>15}"
            f"{mb(r['peak_rss']):>13}  {r['outcome']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--worker", choices=PATHS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.rows)))
        return
    print_table([measure(path, args.rows) for path in args.paths])


if __name__ == "__main__":
    main()
