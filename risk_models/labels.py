"""Labels: the only code allowed to look past the as-of date.

Right-censoring: an as-of date whose horizon (plus the recording lag allowance) is not yet observed gets no label,
never a negative. Entities whose outcome already happened by t are excluded (they cannot happen again).
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from features.asof import ENTITY
from features.assembly import AS_OF
from features.store import TableStore
from risk_models.spec import EventLabel, OutcomeLabel

LABEL = "label"


def observed_until(label: EventLabel | OutcomeLabel, store: TableStore) -> date:
    """The last day the outcome table tells us about (its latest recorded date)."""
    contract = store.contract(label.table)
    column = contract.recorded_at or contract.event_at
    if column is None:
        raise ValueError(f"outcome table {label.table!r} declares neither recorded_at nor event_at")
    latest = store.frame(label.table).select(pl.col(column).max()).collect().item()
    if not isinstance(latest, date):
        raise ValueError(f"outcome table {label.table!r} is empty: no label can be observed")
    return latest


def last_labelable_date(label: EventLabel | OutcomeLabel, store: TableStore) -> date:
    """The latest as-of date whose whole horizon has been observed."""
    return observed_until(label, store) - timedelta(days=label.horizon_days + label.settle_days)


def attach_labels(label: EventLabel | OutcomeLabel, store: TableStore, rows: pl.DataFrame) -> pl.DataFrame:
    """Add `label` (1/0, null when censored or unresearched) to (entity_id, as_of) rows; drop already-ended rows."""
    if isinstance(label, EventLabel):
        return _event_labels(label, store, rows)
    return _outcome_labels(label, store, rows)


def _outcome_events(store: TableStore, table: str, date_column: str, where: pl.Expr | None) -> pl.DataFrame:
    contract = store.contract(table)
    frame = store.frame(table).rename({contract.entity_key: ENTITY})
    if where is not None:
        frame = frame.filter(where)
    return frame.select(ENTITY, pl.col(date_column).alias("_at")).sort("_at").collect()


def _event_labels(label: EventLabel, store: TableStore, rows: pl.DataFrame) -> pl.DataFrame:
    where = pl.col(label.filter_column).is_in(list(label.filter_values)) if label.filter_column else None
    event_at = store.contract(label.table).event_at or ""
    events = _outcome_events(store, label.table, event_at, where)
    if not label.recurrent:
        # A terminal outcome (closure) ends the entity's story: rows on or after its first one are dropped.
        first = events.group_by(ENTITY).agg(pl.col("_at").min().alias("_first"))
        rows = (
            rows.join(first, on=ENTITY, how="left")
            .filter(pl.col("_first").is_null() | (pl.col("_first") > pl.col(AS_OF)))
            .drop("_first")
        )
    # The next outcome strictly after t, whatever happened before (repeatable outcomes such as incidents).
    upcoming = rows.sort(AS_OF).join_asof(
        events.select(ENTITY, pl.col("_at").alias("_next")),
        left_on=AS_OF,
        right_on="_next",
        by=ENTITY,
        strategy="forward",
        allow_exact_matches=False,
        check_sortedness=False,  # both sides are sorted by date; polars cannot verify that within `by` groups
    )
    within = pl.col("_next") <= pl.col(AS_OF).dt.offset_by(f"{label.horizon_days}d")
    censored = pl.col(AS_OF) > last_labelable_date(label, store)
    value = pl.when(censored).then(None).otherwise(within.fill_null(False).cast(pl.Int8))
    return upcoming.with_columns(value.alias(LABEL)).drop("_next").sort(AS_OF, ENTITY)


def _outcome_labels(label: OutcomeLabel, store: TableStore, rows: pl.DataFrame) -> pl.DataFrame:
    contract = store.contract(label.table)
    frame = store.frame(label.table).rename({contract.entity_key: ENTITY})
    decisions = frame.select(
        ENTITY,
        pl.col(label.date_column).alias("_at"),
        pl.col(label.result_column).is_in(list(label.positive_values)).cast(pl.Int8).alias("_positive"),
    ).collect()
    window = (pl.col("_at") > pl.col(AS_OF)) & (pl.col("_at") <= pl.col(AS_OF).dt.offset_by(f"{label.horizon_days}d"))
    matched = rows.join(decisions, on=ENTITY, how="inner").filter(window)
    outcome = matched.group_by(ENTITY, AS_OF).agg(pl.col("_positive").max().alias(LABEL))
    censored = pl.col(AS_OF) > last_labelable_date(label, store)
    labelled = rows.join(outcome, on=[ENTITY, AS_OF], how="left")
    return labelled.with_columns(pl.when(censored).then(None).otherwise(pl.col(LABEL)).alias(LABEL))
