"""Streamed, crash-safe writing of a synthetic world: one Parquet file per table plus a sender manifest.

Chunks are appended as row groups through `pyarrow.parquet.ParquetWriter`, so memory holds one chunk at a time.
Everything is staged in a hidden sibling folder, fsynced, and renamed into place; `manifest.json` is written last, so
a folder without a manifest is never a finished world.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from features.atomic import fsync_dir, process_alive
from features.contracts import get_contract
from features.loading import file_sha256
from features.tables import PREPAID_WORLD_TABLES

TRUE_HAZARD = "true_hazard"
TABLES: tuple[str, ...] = (*PREPAID_WORLD_TABLES, TRUE_HAZARD)
TRUE_HAZARD_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "uscc": pl.String,
    "month": pl.Date,
    "hazard": pl.Float32,
}
_ARROW: dict[Any, pa.DataType] = {
    pl.String: pa.large_string(),
    pl.Date: pa.date32(),
    pl.Float64: pa.float64(),
    pl.Float32: pa.float32(),
    pl.Int64: pa.int64(),
    pl.Boolean: pa.bool_(),
}
NULL_DAY = 2**40  # day numbers at or above this are written as null dates
ROW_GROUP = 1_000_000


def table_schema(name: str) -> dict[str, pl.DataType | type[pl.DataType]]:
    """Column names and polars dtypes of a world table, in file order (the contract's, or true_hazard's)."""
    return dict(TRUE_HAZARD_SCHEMA) if name == TRUE_HAZARD else get_contract(name).schema


def arrow_schema(name: str) -> pa.Schema:
    """The fixed Arrow schema a table is written with (identical for every chunk)."""
    return pa.schema([(col, _ARROW[dtype]) for col, dtype in table_schema(name).items()])


def contract_frame(name: str, data: Mapping[str, np.ndarray | pl.Series]) -> pl.DataFrame:
    """Build a frame with exactly the table's columns and dtypes from numpy arrays or series.

    Date columns are given as day numbers (NULL_DAY and above become null); float NaN becomes null; object arrays
    may hold None.
    """
    columns = []
    for col, dtype in table_schema(name).items():
        values = data[col]
        if isinstance(values, pl.Series):
            series = values.alias(col)
        elif dtype == pl.Date:
            days = np.asarray(values)
            series = pl.Series(col, np.where(days >= NULL_DAY, 0, days).astype(np.int32)).cast(pl.Date)
            series = series.scatter(np.flatnonzero(days >= NULL_DAY), None) if (days >= NULL_DAY).any() else series
        elif dtype in (pl.Float64, pl.Float32):
            series = pl.Series(col, values, dtype=pl.Float64, nan_to_null=True)
        else:
            series = pl.Series(col, values, dtype=dtype)
        columns.append(series.cast(dtype))
    return pl.DataFrame(columns)


class WorldWriter:
    """Write the tables of a world chunk by chunk into a staging folder and publish it atomically.

    Use as a context manager; `commit()` publishes, leaving the block without commit (or by an exception) removes
    the staging folder and leaves any previous world untouched.
    """

    def __init__(self, out_dir: Path, generator: Mapping[str, Any]) -> None:
        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not (self.out_dir / "manifest.json").exists() and any(self.out_dir.iterdir()):
            raise FileExistsError(
                f"{self.out_dir} exists, is not empty and holds no manifest.json; refusing to replace"
            )
        self.generator = dict(generator)
        _remove_stale_stages(self.out_dir)
        self.stage = self.out_dir.parent / f".{self.out_dir.name}.tmp-{os.getpid()}"
        if self.stage.exists():
            shutil.rmtree(self.stage)
        self.stage.mkdir(parents=True)
        self.rows = dict.fromkeys(TABLES, 0)
        self._writers = {
            name: pq.ParquetWriter(self.stage / f"{name}.parquet", arrow_schema(name), compression="zstd")
            for name in TABLES
        }
        self._done = False

    def write(self, name: str, frame: pl.DataFrame) -> None:
        """Append a chunk of one table as row groups (columns must match the table's schema)."""
        table = frame.to_arrow().cast(arrow_schema(name))
        self._writers[name].write_table(table, row_group_size=ROW_GROUP)
        self.rows[name] += frame.height

    def commit(self) -> dict[str, int]:
        """Close and fsync every file, write the manifest last, and move the folder into place.

        Returns:
            Rows written per table.
        """
        tables = {}
        for name, writer in self._writers.items():
            writer.close()
            path = self.stage / f"{name}.parquet"
            _fsync(path)
            tables[name] = {"file": path.name, "rows": self.rows[name], "sha256": file_sha256(path)}
        manifest = {"tables": tables, "generator": self.generator, "oracle_tables": [TRUE_HAZARD]}
        text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n"
        (self.stage / "manifest.json").write_text(text, encoding="utf-8")
        _fsync(self.stage / "manifest.json")
        fsync_dir(self.stage)
        self._publish()
        self._done = True
        return dict(self.rows)

    def _publish(self) -> None:
        """Rename the staged folder into place; an existing world is renamed away first, then deleted."""
        parent = self.out_dir.parent
        if self.out_dir.exists():
            old = parent / f".{self.out_dir.name}.old-{os.getpid()}"
            if old.exists():
                shutil.rmtree(old)
            os.rename(self.out_dir, old)
            os.rename(self.stage, self.out_dir)
            fsync_dir(parent)
            shutil.rmtree(old)
        else:
            os.rename(self.stage, self.out_dir)
            fsync_dir(parent)

    def __enter__(self) -> WorldWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._done:
            for writer in self._writers.values():
                writer.close()
            shutil.rmtree(self.stage, ignore_errors=True)


def _remove_stale_stages(out_dir: Path) -> None:
    """Delete staging/old folders of this world left by processes that died (their pid is no longer alive)."""
    for path in out_dir.parent.glob(f".{out_dir.name}.*-*"):
        kind, _, pid = path.name.removeprefix(f".{out_dir.name}.").partition("-")
        if kind in ("tmp", "old") and pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@dataclass(frozen=True)
class WorldSummary:
    """What a world generator wrote.

    Attributes:
        out_dir: the published folder.
        rows: rows per table file (dirty rows included), true_hazard too.
        seconds: wall-clock time of the generation.
    """

    out_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
