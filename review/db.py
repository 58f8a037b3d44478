"""The review database: pushed warnings and published runs (SQLite by default, PostgreSQL through a URL).

Pushes are upserts keyed by (theme, as_of, entity_id) inside one transaction per run, so a rerun, a double trigger or
a crash mid-push never duplicates a warning.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

metadata = sa.MetaData()

warnings_table = sa.Table(
    "warnings",
    metadata,
    sa.Column("theme", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("entity_id", sa.String(64), primary_key=True),
    sa.Column("entity_name", sa.Text),
    sa.Column("area", sa.String(64), index=True),
    sa.Column("entity_group", sa.String(64)),
    sa.Column("tier", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("triggers", sa.Text, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("under_disposition", sa.Boolean, nullable=False),
    sa.Column("run_dir", sa.Text, nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False),
    sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False),
)

published_runs = sa.Table(
    "published_runs",
    metadata,
    sa.Column("theme", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("manifest_sha256", sa.String(64), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False),
)


def connect(url: str) -> sa.Engine:
    """An engine for the review database, creating missing tables."""
    engine = sa.create_engine(url, future=True)
    metadata.create_all(engine)
    return engine


def already_pushed(engine: sa.Engine, theme: str, as_of: date, manifest_sha256: str) -> bool:
    query = sa.select(published_runs.c.manifest_sha256).where(
        published_runs.c.theme == theme, published_runs.c.as_of == as_of
    )
    with engine.connect() as connection:
        return connection.execute(query).scalar() == manifest_sha256


def push_run(engine: sa.Engine, theme: str, as_of: date, manifest_sha256: str, rows: Iterable[dict[str, Any]]) -> int:
    """Upsert a run's warnings and record the run; a run already pushed with the same manifest pushes nothing."""
    if already_pushed(engine, theme, as_of, manifest_sha256):
        return 0
    now = datetime.now(tz=UTC)
    prepared = [_row(theme, as_of, r, now) for r in rows]
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    with engine.begin() as connection:  # one transaction: all of a run's rows and its record, or none
        keys = ["theme", "as_of", "entity_id"]
        statement = insert(warnings_table)
        update = {c.name: statement.excluded[c.name] for c in warnings_table.columns if c.name not in keys}
        if prepared:
            connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=update), prepared)
        record = insert(published_runs).values(
            theme=theme, as_of=as_of, manifest_sha256=manifest_sha256, rows=len(prepared), pushed_at=now
        )
        connection.execute(
            record.on_conflict_do_update(
                index_elements=["theme", "as_of"],
                set_={"manifest_sha256": manifest_sha256, "rows": len(prepared), "pushed_at": now},
            )
        )
    return len(prepared)


def _row(theme: str, as_of: date, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "theme": theme,
        "as_of": as_of,
        "entity_id": row["entity_id"],
        "entity_name": row.get("entity_name"),
        "area": row.get("area"),
        "entity_group": row.get("entity_group"),
        "tier": row["tier"],
        "status": row["status"],
        "probability": float(row["probability"]),
        "rank": int(row["rank"]),
        "triggers": json.dumps(row.get("triggers") or [], ensure_ascii=False),
        "reasons": json.dumps(row.get("reasons") or [], ensure_ascii=False),
        "under_disposition": bool(row.get("under_disposition")),
        "run_dir": row["run_dir"],
        "model_version": str(row["model_version"]),
        "pushed_at": now,
    }


def pushed_warnings(engine: sa.Engine, theme: str, as_of: date | None = None) -> list[dict[str, Any]]:
    query = sa.select(warnings_table).where(warnings_table.c.theme == theme)
    if as_of is not None:
        query = query.where(warnings_table.c.as_of == as_of)
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(query.order_by(warnings_table.c.rank))]
