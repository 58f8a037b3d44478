"""One run per (theme, date) at a time: a kernel file lock that dies with its holder.

Prefect's transaction lock survives a SIGKILL and hangs reruns forever (RELIABILITY.md); `fcntl.flock` is released
by the kernel the moment the holding process dies, so the next run gets the lock at once.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path


class LockBusy(Exception):
    """Another live process holds the lock."""


def lock_path(locks_dir: Path, theme: str, as_of: date) -> Path:
    return locks_dir / f"{theme}__{as_of.isoformat()}.lock"


@contextmanager
def run_lock(path: Path, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold an exclusive lock on `path`; wait up to `wait_seconds` for a live holder, else raise LockBusy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, wait_seconds)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock; the kernel does the same if we are killed


def _acquire(fd: int, path: Path, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = path.read_text().strip() or "unknown"
                raise LockBusy(f"{path.name} is held by process {holder}") from None
            time.sleep(0.05)
