"""`make bench`: every benchmark at a size that fits a coffee break on 2 cores (pass --large for the 1M figures).

Each benchmark prints its own table of seconds, peak memory and ratios against a reference measured in the same run,
and writes JSON to benchmarks/results/. Timings never appear in test assertions.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

STANDARD = [
    ["bench_memory.py"],
    ["bench_generate.py", "--enterprises", "100000"],
    ["bench_gx.py", "--rows", "1000000"],
    ["bench_features.py", "--enterprises", "100000", "--threads", "1", "--threads", "2"],
    ["bench_explain.py"],
]
LARGE = [
    ["bench_generate.py", "--enterprises", "1000000"],
    ["bench_features.py", "--enterprises", "1000000", "--repeat", "3"],
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="also run the 1M-enterprise benchmarks (long)")
    args = parser.parse_args()
    failed = 0
    for command in STANDARD + (LARGE if args.large else []):
        script = HERE / command[0]
        if not script.exists():
            print(f"skipping {command[0]}: not present")
            continue
        print(f"\n=== {' '.join(command)} ===", flush=True)
        failed += subprocess.run([sys.executable, str(script), *command[1:]], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
