"""Who is scored as of each date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from features.asof import ENTITY
from features.assembly import AS_OF
from features.store import TableStore
from risk_models.spec import Cohort


def cohort_frame(cohort: Cohort, store: TableStore, entity_table: str, dates: Sequence[date]) -> pl.DataFrame:
    """(entity_id, as_of) for every entity in the cohort at every date.

    An entity is in when its row was recorded by t, it started by t (and at least `min_age_days` before), it had not
    ended by t (deregistered, or an outcome of `ended_by` known by t), and it meets every `where` filter.
    """
    contract = store.contract(entity_table)
    frame = store.frame(entity_table).rename({contract.entity_key: ENTITY})
    for column, values in cohort.where:
        frame = frame.filter(pl.col(column).is_in(list(values)))
    as_of = pl.DataFrame({AS_OF: sorted(set(dates))}, schema={AS_OF: pl.Date}).lazy()
    rows = frame.join(as_of, how="cross")
    keep = pl.lit(True)
    if contract.recorded_at:
        keep &= pl.col(contract.recorded_at) <= pl.col(AS_OF)
    if cohort.start_column:
        keep &= pl.col(cohort.start_column) <= pl.col(AS_OF).dt.offset_by(f"-{cohort.min_age_days}d")
    if cohort.end_column:
        keep &= pl.col(cohort.end_column).is_null() | (pl.col(cohort.end_column) > pl.col(AS_OF))
    rows = rows.filter(keep).select(ENTITY, AS_OF)
    if cohort.ended_by:
        rows = rows.join(_ended(store, cohort.ended_by, dates), on=[ENTITY, AS_OF], how="anti")
    return rows.unique().sort(AS_OF, ENTITY).collect()


def _ended(store: TableStore, table: str, dates: Sequence[date]) -> pl.LazyFrame:
    """(entity_id, as_of) pairs where an outcome of `table` had happened and been recorded by the date."""
    contract = store.contract(table)
    events = store.frame(table).select(
        pl.col(contract.entity_key).alias(ENTITY),
        pl.max_horizontal([pl.col(c) for c in (contract.event_at, contract.recorded_at) if c]).alias("_known"),
    )
    first = events.group_by(ENTITY).agg(pl.col("_known").min())
    as_of = pl.DataFrame({AS_OF: sorted(set(dates))}, schema={AS_OF: pl.Date}).lazy()
    return first.join(as_of, how="cross").filter(pl.col("_known") <= pl.col(AS_OF)).select(ENTITY, AS_OF)
