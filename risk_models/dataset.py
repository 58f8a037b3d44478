"""Training frames: monthly as-of snapshots with features and labels, split out of time."""

from __future__ import annotations

import calendar
import hashlib
import io
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from features.asof import ENTITY
from features.assembly import AS_OF, build_feature_frame
from features.store import TableStore, known_at
from risk_models.cohort import cohort_frame
from risk_models.labels import LABEL, attach_labels, last_labelable_date
from risk_models.spec import ThematicModelSpec

SPLIT = "split"
FEATURE_HISTORY_DAYS = 180  # the longest trailing windows need this much history before the first snapshot


@dataclass(frozen=True)
class TrainingFrame:
    """Labelled snapshots of one theme: `entity_id`, `as_of`, features, `label`, `split` (train/valid/test)."""

    frame: pl.DataFrame
    feature_names: list[str]
    categorical: list[str]
    cutoff: date

    def part(self, split: str) -> pl.DataFrame:
        return self.frame.filter(pl.col(SPLIT) == split)

    def dates(self, split: str) -> list[date]:
        return sorted(set(self.part(split)[AS_OF].to_list()))

    def content_sha256(self) -> str:
        return frame_sha256(self.frame)


def frame_sha256(frame: pl.DataFrame) -> str:
    """Hash of a frame's full content (Arrow IPC bytes, uncompressed): any changed cell changes it."""
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression="uncompressed")
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def month_ends(first: date, last: date) -> list[date]:
    """Month-end dates from the month of `first` to `last` (inclusive when `last` is a month end)."""
    dates: list[date] = []
    year, month = first.year, first.month
    while True:
        end = date(year, month, calendar.monthrange(year, month)[1])
        if end > last:
            return dates
        if end >= first:
            dates.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def split_dates(dates: list[date], valid_months: int, test_months: int, horizon_days: int) -> dict[str, list[date]]:
    """Out-of-time split: test = last months, valid = the months before, train = dates whose label horizon ends
    before validation starts (an embargo, so no training label peeks into the validation or test period)."""
    if len(dates) < valid_months + test_months + 2:
        raise ValueError(
            f"only {len(dates)} labelled monthly snapshots; need at least {valid_months + test_months + 2}"
            " (a longer history or a shorter horizon)"
        )
    test, valid = dates[-test_months:], dates[-test_months - valid_months : -test_months]
    train = [d for d in dates[: -test_months - valid_months] if d + timedelta(days=horizon_days) <= valid[0]]
    if len(train) < 2:
        raise ValueError("fewer than 2 training snapshots after the embargo; extend the history")
    return {"train": train, "valid": valid, "test": test}


def snapshot_dates(spec: ThematicModelSpec, store: TableStore) -> list[date]:
    first = date.fromisoformat(spec.history_start) + timedelta(days=FEATURE_HISTORY_DAYS)
    dates = month_ends(first, last_labelable_date(spec.label, store))
    return dates[-spec.model.snapshot_months :] if spec.model.snapshot_months else dates


def build_training_frame(spec: ThematicModelSpec, store: TableStore, cutoff: date) -> TrainingFrame:
    """Features and labels at monthly snapshots, using only what was recorded by `cutoff`."""
    known = known_at(store, cutoff)
    splits = split_dates(
        snapshot_dates(spec, known), spec.model.valid_months, spec.model.test_months, spec.label.horizon_days
    )
    dates = sorted(d for part in splits.values() for d in part)
    cohort = attach_labels(spec.label, known, cohort_frame(spec.cohort, known, spec.entity.table, dates))
    cohort = cohort.filter(pl.col(LABEL).is_not_null())
    features = build_feature_frame(spec.blocks, known, dates, cohort[ENTITY].unique().to_list(), spec.entity.table)
    frame = cohort.join(features, on=[ENTITY, AS_OF], how="left")
    split_of = {d: name for name, part in splits.items() for d in part}
    frame = frame.with_columns(pl.col(AS_OF).replace_strict(split_of, return_dtype=pl.String).alias(SPLIT))
    frame = frame.sort(AS_OF, ENTITY)
    categorical = [c for c in spec.feature_names if frame.schema[c] == pl.String]
    return TrainingFrame(frame, spec.feature_names, categorical, cutoff)
