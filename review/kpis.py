"""Closed-loop figures: warnings pushed, researched, confirmation rate, days to disposal, sectors over time."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from markupsafe import Markup

from review.db import dispositions, warnings_table
from review.dispositions import FINAL
from review.labels import group_label
from review.queries import Scope
from risk_models.svg_charts import Series, bar_chart, line_chart

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
PALETTE = ("#1f4e79", "#c0392b", "#e8710a", "#2e7d6b", "#7b5ea7", "#b8860b", "#8a94a0")
MAX_SERIES = 6
w, d = warnings_table, dispositions


@dataclass
class Kpis:
    pushed: int = 0
    pending: int = 0
    in_progress: int = 0
    confirmed: int = 0
    excluded: int = 0
    days_to_disposal: list[int] = field(default_factory=list)
    by_group: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def researched(self) -> int:
        return self.confirmed + self.excluded

    @property
    def confirmation_rate(self) -> float | None:
        return self.confirmed / self.researched if self.researched else None

    @property
    def median_days(self) -> float | None:
        return statistics.median(self.days_to_disposal) if self.days_to_disposal else None


def _local_day(moment: datetime) -> date:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(BUSINESS_TZ).date()


def _rows(engine: sa.Engine, theme: str | None, scope: Scope) -> list[Any]:
    joined = w.outerjoin(d, sa.and_(d.c.theme == w.c.theme, d.c.as_of == w.c.as_of, d.c.entity_id == w.c.entity_id))
    status = sa.func.coalesce(d.c.status, "pending").label("disposition")
    query = sa.select(w.c.theme, w.c.as_of, w.c.entity_group, status, d.c.decided_at).select_from(joined)
    if theme:
        query = query.where(w.c.theme == theme)
    if scope is not None:
        query = query.where(w.c.area.in_(scope))
    with engine.connect() as connection:
        return list(connection.execute(query))


def compute_kpis(engine: sa.Engine, theme: str | None, scope: Scope) -> Kpis:
    """The figures over every pushed warning of a theme (all themes when None) visible in the scope."""
    kpis = Kpis()
    for row in _rows(engine, theme, scope):
        kpis.pushed += 1
        group = kpis.by_group.setdefault(row.entity_group or "", {"pushed": 0, "researched": 0, "confirmed": 0})
        group["pushed"] += 1
        if row.disposition in FINAL:
            group["researched"] += 1
            group["confirmed"] += row.disposition == "confirmed"
            kpis.confirmed += row.disposition == "confirmed"
            kpis.excluded += row.disposition == "excluded"
            if row.decided_at is not None:
                kpis.days_to_disposal.append((_local_day(row.decided_at) - row.as_of).days)
        elif row.disposition == "pending":
            kpis.pending += 1
        else:
            kpis.in_progress += 1
    return kpis


def sector_series(engine: sa.Engine, theme: str | None, scope: Scope) -> tuple[list[date], dict[str, list[int]]]:
    """Warnings per business date and group (the largest groups, the rest summed as "")."""
    query = sa.select(w.c.as_of, w.c.entity_group, sa.func.count().label("n")).group_by(w.c.as_of, w.c.entity_group)
    if theme:
        query = query.where(w.c.theme == theme)
    if scope is not None:
        query = query.where(w.c.area.in_(scope))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    dates = sorted({r.as_of for r in rows})
    totals: dict[str, int] = {}
    for r in rows:
        totals[r.entity_group or ""] = totals.get(r.entity_group or "", 0) + r.n
    top = sorted(totals, key=lambda g: (-totals[g], g))[:MAX_SERIES]
    series: dict[str, list[int]] = {g: [0] * len(dates) for g in [*top, "*"]}
    for r in rows:
        series[r.entity_group if r.entity_group in top else "*"][dates.index(r.as_of)] += r.n
    if not any(series["*"]):
        del series["*"]
    return dates, series


def sector_chart(engine: sa.Engine, theme: str | None, scope: Scope, lang: str) -> Markup:
    """An inline SVG: warnings by sector per business date (lines, or bars for up to three dates)."""
    dates, series = sector_series(engine, theme, scope)
    other = "其他" if lang != "en" else "other"
    drawn = [
        Series(
            other if g == "*" else group_label(g, lang) or "—", [float(v) for v in values], PALETTE[i % len(PALETTE)]
        )
        for i, (g, values) in enumerate(series.items())
    ]
    title = "按行业预警数量" if lang != "en" else "Warnings by sector"
    empty = "暂无数据" if lang != "en" else "no data"
    labels = [x.isoformat() for x in dates]
    draw = bar_chart if len(dates) <= 3 else line_chart
    # svg_charts escapes every text it writes, so its output is safe markup
    return Markup(draw(labels, drawn, title=title, width=1100, height=300, empty_text=empty))


def tier_dispositions(engine: sa.Engine, theme: str, start: date, end: date) -> list[tuple[date, str, str]]:
    """(business date, tier, disposition status) of every warning of a theme pushed for a date in [start, end].

    A warning nobody has touched yet is `pending`; model monitoring pools these into confirmation rates by tier.
    """
    joined = w.outerjoin(d, sa.and_(d.c.theme == w.c.theme, d.c.as_of == w.c.as_of, d.c.entity_id == w.c.entity_id))
    status = sa.func.coalesce(d.c.status, "pending")
    query = (
        sa.select(w.c.as_of, w.c.tier, status)
        .select_from(joined)
        .where(w.c.theme == theme, w.c.as_of >= start, w.c.as_of <= end)
        .order_by(w.c.as_of)
    )
    with engine.connect() as connection:
        return [(r[0], r[1], r[2]) for r in connection.execute(query)]
