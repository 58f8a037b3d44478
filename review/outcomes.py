"""The loop closes: research results (研判结论) as an outcome table a theme's `OutcomeLabel` can learn from.

Selective labels: only warned and researched entities have outcomes, and a warning can prevent what it predicts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import sqlalchemy as sa

from features.atomic import write_parquet_atomic
from features.contracts import Column, TableContract, register_contract
from review.db import dispositions
from review.dispositions import FINAL

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
OPEN_STATES = ("checking", "interviewed")
d = dispositions

RESEARCH_OUTCOMES = register_contract(
    TableContract(
        name="research_outcomes",
        title="研判结论",
        kind="event",
        description="Results of staff research of pushed warnings (confirmed risk or excluded), one row per decision.",
        keys=("theme", "uscc", "decided_at"),
        entity_key="uscc",
        event_at="decided_at",
        recorded_at="recorded_at",
        columns=(
            # not checksum-checked: device and place themes (fire lanes) key their entities by other ids
            Column("uscc", pl.String, "主体编号", "entity id of the warning (a credit code for enterprises)"),
            Column("decided_at", pl.Date, "研判日期", "business date (Asia/Shanghai) of the decision"),
            Column("recorded_at", pl.Date, "入库日期", "date the decision was recorded in the review database"),
            Column("result", pl.String, "研判结论", "confirmed risk or excluded", allowed=("confirmed", "excluded")),
            Column("theme", pl.String, "预警主题", "theme whose warning was researched"),
        ),
        owner="review",
        tags=("feedback", "labels"),
    )
)


def _day(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(BUSINESS_TZ)


def export_research_outcomes(engine: sa.Engine, theme: str | None = None) -> pl.DataFrame:
    """Decided warnings as (uscc, decided_at, recorded_at, result, theme); the last decision of a day wins."""
    query = sa.select(d.c.theme, d.c.entity_id, d.c.status, d.c.decided_at, d.c.updated_at).where(
        d.c.status.in_(sorted(FINAL)), d.c.decided_at.is_not(None)
    )
    if theme:
        query = query.where(d.c.theme == theme)
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(d.c.decided_at)).all()
    frame = pl.DataFrame(
        {
            "uscc": [r.entity_id for r in rows],
            "decided_at": [_day(r.decided_at).date() for r in rows],
            "recorded_at": [_day(r.updated_at).date() for r in rows],
            "result": [r.status for r in rows],
            "theme": [r.theme for r in rows],
        },
        schema=RESEARCH_OUTCOMES.schema,
    )
    return frame.unique(subset=list(RESEARCH_OUTCOMES.keys), keep="last", maintain_order=True)


def write_research_outcomes(engine: sa.Engine, folder: Path, theme: str | None = None) -> Path:
    """Write `research_outcomes.parquet` into a delivery folder (atomically)."""
    path = folder / f"{RESEARCH_OUTCOMES.name}.parquet"
    write_parquet_atomic(export_research_outcomes(engine, theme), path)
    return path


def under_disposition(engine: sa.Engine, theme: str) -> list[str]:
    """Entities whose warning is being researched (核查中/已约谈): the nightly run does not push them again."""
    query = sa.select(d.c.entity_id).where(d.c.theme == theme, d.c.status.in_(OPEN_STATES)).distinct()
    with engine.connect() as connection:
        return sorted(r.entity_id for r in connection.execute(query))
