"""Crash-safe writes: stage to a temporary file in the same folder, fsync, then rename into place."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq


@contextmanager
def staged_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success fsync it and atomically replace `target`.

    A crash leaves either the old file or the new one, never a torn file under the final name.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def fsync_dir(folder: Path) -> None:
    """Make a rename durable by syncing the folder entry."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(target: Path, write: Callable[[Path], Any]) -> Path:
    """Call `write(tmp_path)` and move the result to `target` atomically."""
    with staged_path(target) as tmp:
        write(tmp)
    return target


def write_parquet_atomic(frame: pl.DataFrame, target: Path) -> Path:
    return write_atomic(target, lambda tmp: frame.write_parquet(tmp, compression="zstd", statistics=True))


@contextmanager
def parquet_writer(target: Path, schema: pl.Schema) -> Iterator[Callable[[pl.DataFrame], None]]:
    """Yield a function that appends frames of `schema` to one Parquet file, published atomically on success.

    For tables too big to hold at once: each frame becomes row groups of the staged file as it comes, and only a
    complete file is renamed into place (an exception leaves the previous file, if any, untouched). Compressing and
    writing a frame runs in a background thread while the caller prepares the next one (pyarrow releases the GIL);
    at most one frame is in flight, so memory stays bounded.
    """
    arrow_schema = pl.DataFrame(schema=schema).to_arrow().schema
    pending: list[Future[None]] = []

    def write(frame: pl.DataFrame) -> None:
        table = frame.select(schema.names()).to_arrow().cast(arrow_schema)
        while pending:
            pending.pop().result()  # the previous frame is written (or its error raised) first
        pending.append(pool.submit(writer.write_table, table))

    with (
        staged_path(target) as tmp,
        pq.ParquetWriter(tmp, arrow_schema, compression="zstd") as writer,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer") as pool,
    ):
        yield write
        while pending:
            pending.pop().result()


def write_json_atomic(payload: Any, target: Path) -> Path:
    text = json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    return write_atomic(target, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def write_text_atomic(text: str, target: Path) -> Path:
    return write_atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def process_alive(pid: int) -> bool:
    """True while a process with this pid exists on this host (a staged file of a dead writer is debris)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
