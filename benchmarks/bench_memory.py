"""What fresh memory costs on this machine: the reason the feature engine avoids grid-sized temporaries.

    python benchmarks/bench_memory.py [--mib 96] [--arrays 20]

Fills numpy arrays of one grid column's size (1M entities x 12 dates x 8 bytes = 96 MB) three ways:
  growing:  each array new to the process (its peak RSS grows);
  reused:   right after freeing as many, so the kernel hands the same pages back;
  after a pause of 1 and 3 s: on a virtual machine whose host reclaims freed guest memory (free page reporting),
            the pages are fresh again and cost as much as growing;
  then the same inside `features.heap.kept_heap()`, as a feature build runs: freed arrays stay in the heap.
Prints ms per array and GB/s; the ratio growing / reused is what a temporary array costs beyond the arithmetic.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np

from features.heap import kept_heap


def fill(held: list[np.ndarray], count: int, length: int) -> float:
    """Seconds per array to create `count` filled arrays, kept in `held`."""
    began = time.perf_counter()
    held.extend(np.full(length, 1.0) for _ in range(count))
    return (time.perf_counter() - began) / count


def measure(length: int, count: int, label: str) -> list[tuple[str, float]]:
    """Seconds per array: growing, reused at once, and reused after pauses of 1 and 3 s."""
    held: list[np.ndarray] = []
    rows = [(f"{label}growing", fill(held, count, length))]
    for pause in (0.0, 1.0, 3.0):
        held.clear()
        gc.collect()
        time.sleep(pause)
        seconds = fill(held, count, length)
        rows.append((f"{label}reused" if pause == 0 else f"{label}after {pause:.0f} s pause", seconds))
    held.clear()
    time.sleep(3.0)  # the next measurement grows into fresh memory again
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=96, help="size of one array (MiB)")
    parser.add_argument("--arrays", type=int, default=20, help="arrays per measurement")
    args = parser.parse_args()
    length = args.mib * 2**20 // 8
    rows = measure(length, args.arrays, "")
    with kept_heap():
        rows += measure(length, args.arrays, "kept heap, ")
    print(f"{'memory':<31} {'ms/array':>9} {'GB/s':>6} {'x reused':>9}")
    reused = rows[1][1]
    for label, seconds in rows:
        print(f"{label:<31} {seconds * 1000:9.1f} {args.mib / 1024 / seconds:6.2f} {seconds / reused:9.1f}")


if __name__ == "__main__":
    main()
