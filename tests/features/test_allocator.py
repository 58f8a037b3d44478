"""riskgen asks polars for transparent huge pages (POLARS_THP) when imported before polars (features/__init__.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

THP_MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")
# Import the CLI's package as the `riskgen` command does, allocate 160 MB in polars, report the process's huge pages.
CHILD = """
import os, pipelines.cli, polars as pl
values = pl.int_range(0, 20_000_000, eager=True) * 3
huge = [line.split()[1] for line in open("/proc/self/smaps_rollup") if line.startswith("AnonHugePages")]
print(os.environ["POLARS_THP"], os.environ["_RJEM_MALLOC_CONF"], huge[0])
"""


def run_child(**env: str) -> tuple[str, str, int]:
    """POLARS_THP and the jemalloc options polars made of it, and the child's huge pages in KiB."""
    ours = ("POLARS_THP", "_RJEM_MALLOC_CONF")
    environment = {k: v for k, v in os.environ.items() if k not in ours} | env
    out = subprocess.run([sys.executable, "-c", CHILD], env=environment, capture_output=True, text=True, check=True)
    thp, jemalloc, huge_kib = out.stdout.split()
    return thp, jemalloc, int(huge_kib)


@pytest.mark.skipif(
    not THP_MODE.exists() or "[never]" in THP_MODE.read_text(), reason="the kernel grants no transparent huge pages"
)
def test_polars_memory_comes_in_huge_pages_when_riskgen_is_imported_first() -> None:
    thp, jemalloc, huge_kib = run_child()
    assert thp == "1" and "thp:always" in jemalloc.split(",")
    assert huge_kib >= 64 * 1024  # most of the 160 MB array


def test_an_allocator_setting_of_the_user_wins() -> None:
    thp, jemalloc, _ = run_child(POLARS_THP="0")
    assert thp == "0" and "thp:always" not in jemalloc.split(",")
