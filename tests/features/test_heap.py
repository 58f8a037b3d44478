"""kept_heap keeps memory numpy frees in the process during a build and gives it back after."""

from __future__ import annotations

import os

import numpy as np
import pytest

from features import heap

pytestmark = pytest.mark.skipif(heap._LIBC is None, reason="glibc only")
MIB = 2**20


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_freed_arrays_stay_in_the_process_until_the_outermost_block_ends() -> None:
    before = rss()
    with heap.kept_heap():
        with heap.kept_heap():  # nested builds: the inner one leaving changes nothing
            held = np.ones(256 * MIB // 8)
            del held
        assert rss() - before > 200 * MIB  # freed, but kept for the next array
        reused = np.ones(256 * MIB // 8)
        assert rss() - before < 300 * MIB  # the next array took the kept memory, not more
        del reused
    assert rss() - before < 50 * MIB  # given back on leaving


def test_the_defaults_come_back_after_an_error() -> None:
    with pytest.raises(RuntimeError), heap.kept_heap():
        raise RuntimeError("build failed")
    before = rss()
    held = np.ones(256 * MIB // 8)
    del held
    assert rss() - before < 50 * MIB  # large arrays are unmapped on free again
