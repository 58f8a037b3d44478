"""Reading warnings for the pages: ranked, filtered, sorted, searched and paged lists, scoped to a reviewer's towns."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import sqlalchemy as sa

from review.db import dispositions, published_runs, warnings_table
from review.dispositions import STATUSES, WarningKey
from review.labels import LIST_STATUS_LABELS, TIER_ORDER

w, d = warnings_table, dispositions
_THEME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ENTITY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
SORTS: dict[str, sa.ColumnElement[Any]] = {
    "rank": w.c.rank,
    "probability": w.c.probability,
    "name": w.c.entity_name,
    "town": w.c.area,
    "disposition": sa.func.coalesce(d.c.status, "pending"),
    "due": d.c.due_date,
}
Scope = tuple[str, ...] | None  # None: every town; a tuple: only these towns (a reviewer)


def parse_key(theme: str, as_of: str, entity_id: str | None = None) -> tuple[str, date, str | None] | None:
    """Validate route parameters by shape before they reach a query (anything else is simply not found)."""
    if not _THEME.match(theme) or not _DATE.match(as_of):
        return None
    if entity_id is not None and not _ENTITY.match(entity_id):
        return None
    try:
        return theme, date.fromisoformat(as_of), entity_id
    except ValueError:
        return None


@dataclass(frozen=True)
class ListFilter:
    tier: str = ""
    town: str = ""
    group: str = ""
    status: str = ""
    disposition: str = ""
    q: str = ""
    sort: str = "rank"
    order: str = "asc"
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ListFilter:
        """Unknown values fall back to defaults; free text is trimmed to 64 characters."""
        page = params.get("page", "1")

        def pick(name: str, allowed: Iterable[str], default: str = "") -> str:
            value = params.get(name, default)
            return value if value in allowed else default

        return cls(
            tier=pick("tier", TIER_ORDER),
            town=params.get("town", "")[:64],
            group=params.get("group", "")[:64],
            status=pick("status", LIST_STATUS_LABELS),
            disposition=pick("disposition", STATUSES),
            q=params.get("q", "").strip()[:64],
            sort=pick("sort", SORTS, "rank"),
            order=pick("order", ("asc", "desc"), "asc"),
            page=min(int(page), 100_000) if page.isdigit() and int(page) > 0 else 1,
        )

    def query_string(self, **changes: Any) -> str:
        from urllib.parse import urlencode

        values = {k: v for k, v in replace(self, **changes).__dict__.items() if v not in ("", None)}
        return urlencode(values)


@dataclass(frozen=True)
class ListPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


def _base(theme: str, as_of: date, scope: Scope) -> sa.Select[Any]:
    joined = w.outerjoin(d, sa.and_(d.c.theme == w.c.theme, d.c.as_of == w.c.as_of, d.c.entity_id == w.c.entity_id))
    status = sa.func.coalesce(d.c.status, "pending").label("disposition")
    query = (
        sa.select(w, status, d.c.assignee, d.c.due_date)
        .select_from(joined)
        .where(w.c.theme == theme, w.c.as_of == as_of)
    )
    return query if scope is None else query.where(w.c.area.in_(scope))


def _filtered(query: sa.Select[Any], f: ListFilter) -> sa.Select[Any]:
    if f.tier:
        query = query.where(w.c.tier == f.tier)
    if f.town:
        query = query.where(w.c.area == f.town)
    if f.group:
        query = query.where(w.c.entity_group == f.group)
    if f.status:
        query = query.where(w.c.status == f.status)
    if f.disposition:
        query = query.where(sa.func.coalesce(d.c.status, "pending") == f.disposition)
    if f.q:
        matches = w.c.entity_name.contains(f.q, autoescape=True) | w.c.entity_id.startswith(
            f.q.upper(), autoescape=True
        )
        query = query.where(matches)
    return query


def _ordered(query: sa.Select[Any], f: ListFilter) -> sa.Select[Any]:
    column = SORTS[f.sort]
    primary = column.desc() if f.order == "desc" else column.asc()
    return query.order_by(primary.nulls_last(), w.c.rank, w.c.entity_id)


def list_warnings(engine: sa.Engine, theme: str, as_of: date, f: ListFilter, scope: Scope, size: int) -> ListPage:
    """One page of the filtered, sorted list."""
    query = _filtered(_base(theme, as_of, scope), f)
    with engine.connect() as connection:
        total = int(connection.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar() or 0)
        pages = max(1, math.ceil(total / size))
        page = min(f.page, pages)
        rows = connection.execute(_ordered(query, f).limit(size).offset((page - 1) * size))
        return ListPage([dict(r._mapping) for r in rows], total, page, pages)


def all_warnings(engine: sa.Engine, theme: str, as_of: date, f: ListFilter, scope: Scope) -> list[dict[str, Any]]:
    """The whole filtered list in the chosen order (for exports)."""
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(_ordered(_filtered(_base(theme, as_of, scope), f), f))]


def facets(engine: sa.Engine, theme: str, as_of: date, scope: Scope) -> dict[str, list[str]]:
    """The towns and groups present in a list (for the filter menus)."""
    query = sa.select(w.c.area, w.c.entity_group).where(w.c.theme == theme, w.c.as_of == as_of).distinct()
    if scope is not None:
        query = query.where(w.c.area.in_(scope))
    with engine.connect() as connection:
        pairs = connection.execute(query).all()
    return {
        "towns": sorted({p.area for p in pairs if p.area}),
        "groups": sorted({p.entity_group for p in pairs if p.entity_group}),
    }


def get_warning(engine: sa.Engine, key: WarningKey) -> dict[str, Any] | None:
    query = _base(key.theme, key.as_of, None).where(w.c.entity_id == key.entity_id)
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return dict(row._mapping) if row else None


def published(engine: sa.Engine) -> list[dict[str, Any]]:
    """Every pushed run, newest date first."""
    query = sa.select(published_runs).order_by(published_runs.c.as_of.desc(), published_runs.c.theme)
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(query)]


def run_exists(engine: sa.Engine, theme: str, as_of: date) -> bool:
    query = sa.select(published_runs.c.rows).where(published_runs.c.theme == theme, published_runs.c.as_of == as_of)
    with engine.connect() as connection:
        return connection.execute(query).first() is not None


def overview(engine: sa.Engine, scope: Scope) -> list[dict[str, Any]]:
    """Per pushed run: warnings visible to the user and how many are pending, in progress and decided."""
    status = sa.func.coalesce(d.c.status, "pending")
    counts = [sa.func.count().label("visible")] + [
        sa.func.sum(sa.case((status.in_(group), 1), else_=0)).label(name)
        for name, group in (
            ("pending", ["pending"]),
            ("active", ["checking", "interviewed"]),
            ("decided", ["confirmed", "excluded"]),
        )
    ]
    joined = w.outerjoin(d, sa.and_(d.c.theme == w.c.theme, d.c.as_of == w.c.as_of, d.c.entity_id == w.c.entity_id))
    query = sa.select(w.c.theme, w.c.as_of, *counts).select_from(joined).group_by(w.c.theme, w.c.as_of)
    if scope is not None:
        query = query.where(w.c.area.in_(scope))
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(query.order_by(w.c.as_of.desc(), w.c.theme))]
    return rows
