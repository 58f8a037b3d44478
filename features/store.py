"""A set of validated tables, read lazily from a folder of Parquet files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from features.contracts import TableContract, get_contract
from features.loading import file_sha256


@dataclass(frozen=True)
class TableStore:
    """Validated tables by name, each with its contract.

    Feature blocks never see a store directly: they read through `AsOf`, which cuts every table at the as-of dates.
    """

    frames: Mapping[str, pl.LazyFrame]
    contracts: Mapping[str, TableContract]
    paths: Mapping[str, Path] = field(default_factory=dict)

    @classmethod
    def from_folder(cls, folder: Path, names: list[str] | None = None) -> TableStore:
        """Open `<name>.parquet` files of a folder (an `accepted/` folder of a validation, or a synthetic world)."""
        if not folder.is_dir():
            raise FileNotFoundError(f"table folder {folder} does not exist; run `riskgen data validate` first")
        paths = {p.stem: p for p in sorted(folder.glob("*.parquet"))}
        wanted = names if names is not None else [n for n in paths if _is_known(n)]
        missing = [n for n in wanted if n not in paths]
        if missing:
            raise FileNotFoundError(f"{folder} lacks the tables {missing}; expected files like {missing[0]}.parquet")
        return cls(
            {n: pl.scan_parquet(paths[n]) for n in wanted},
            {n: get_contract(n) for n in wanted},
            {n: paths[n] for n in wanted},
        )

    @classmethod
    def from_frames(cls, frames: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> TableStore:
        return cls({n: f.lazy() for n, f in frames.items()}, {n: get_contract(n) for n in frames})

    def input_files(self) -> dict[str, dict[str, str]]:
        """Path and full-content sha256 of every table file the store was opened from (reproduction records)."""
        return {name: {"path": str(path), "sha256": file_sha256(path)} for name, path in sorted(self.paths.items())}

    def input_sha256(self) -> dict[str, str]:
        return {name: entry["sha256"] for name, entry in self.input_files().items()}

    def frame(self, name: str) -> pl.LazyFrame:
        if name not in self.frames:
            raise KeyError(f"table {name!r} is not loaded; loaded: {sorted(self.frames)}")
        return self.frames[name]

    def contract(self, name: str) -> TableContract:
        return self.contracts[name]

    def with_frames(self, frames: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> TableStore:
        """A copy with some tables replaced (used by tests that append late-recorded rows)."""
        merged = dict(self.frames) | {n: f.lazy() for n, f in frames.items()}
        paths = {n: p for n, p in self.paths.items() if n not in frames}
        return TableStore(merged, dict(self.contracts) | {n: get_contract(n) for n in frames}, paths)


def _is_known(name: str) -> bool:
    try:
        get_contract(name)
    except KeyError:
        return False
    return True


def known_at(store: TableStore, cutoff: date) -> TableStore:
    """The store as it was known on `cutoff`: rows recorded later are removed from every table."""
    frames = {}
    for name, frame in store.frames.items():
        recorded = store.contract(name).recorded_at
        frames[name] = frame.filter(pl.col(recorded) <= cutoff) if recorded else frame
    return TableStore(frames, dict(store.contracts), dict(store.paths))
