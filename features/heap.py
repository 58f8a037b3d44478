"""Keeping freed memory in the process while a feature frame is built.

A build allocates and frees hundreds of grid-sized numpy arrays (96 MB each at 1M entities x 12 dates). glibc
serves each from its own `mmap` and unmaps it on free; on the virtual machines we run on the host then reclaims the
pages within seconds, and the next array faults them in afresh at 0.5-2.3 GB/s instead of the 6-8 GB/s of pages
reused at once (`python benchmarks/bench_memory.py`, which also measures the heap kept this way: about 20 GB/s).
Inside `kept_heap()` glibc takes large blocks from its heap instead and keeps freed ones there for the next
allocation; on leaving, the defaults come back and the free part of the heap is returned to the system.

Only glibc is tuned (numpy allocates through it; polars has its own allocator). Elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# mallopt parameters (malloc.h) and glibc's defaults for them.
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 65536
KEPT_TRIM_THRESHOLD = 2**31 - 1  # the largest mallopt takes: free memory at the heap's top up to 2 GiB is kept

_lock = threading.Lock()
_depth = 0  # builds inside kept_heap(): the last one to leave restores the defaults


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()


@contextmanager
def kept_heap() -> Iterator[None]:
    """Serve large allocations from the heap and keep freed memory in it until the outermost block ends."""
    global _depth
    if _LIBC is None:
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            _LIBC.mallopt(M_MMAP_MAX, 0)
            _LIBC.mallopt(M_TRIM_THRESHOLD, KEPT_TRIM_THRESHOLD)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _LIBC.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
                _LIBC.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
                _LIBC.malloc_trim(0)
