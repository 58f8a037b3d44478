"""The review database: pushed warnings and published runs (SQLite by default, PostgreSQL through a URL).

Pushes are upserts keyed by (theme, as_of, entity_id) inside one transaction per run, so a rerun, a double trigger or
a crash mid-push never duplicates a warning. The web app's own tables (users, sessions, dispositions, the audit log)
live in the same database; `schema_version` records which migrations an existing database has had, so a later change
is applied once, in order, to a database created by an earlier release.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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


# --- the review web app (schema version 2) -------------------------------------------------------------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),  # scrypt$n$r$p$salt$hash (review.security)
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("towns", sa.Text, nullable=False, default="[]"),  # JSON list: the towns a reviewer may see
    sa.Column("display_name", sa.Text),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # HMAC of the cookie value; the cookie is never stored
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
)

dispositions = sa.Table(
    "dispositions",
    metadata,
    sa.Column("theme", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("entity_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("assignee", sa.String(64)),
    sa.Column("due_date", sa.Date),
    sa.Column("notes", sa.Text),
    sa.Column("decided_at", sa.DateTime(timezone=True)),  # when it reached confirmed/excluded
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

disposition_history = sa.Table(
    "disposition_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("theme", sa.String(64), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("entity_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # transition / assign
    sa.Column("from_status", sa.String(16), nullable=False),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("assignee", sa.String(64)),
    sa.Column("due_date", sa.Date),
    sa.Column("notes", sa.Text),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_disposition_history_warning", "theme", "as_of", "entity_id"),
)

attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # generated; the file is stored under this id, never its name
    sa.Column("theme", sa.String(64), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("entity_id", sa.String(64), nullable=False),
    sa.Column("history_id", sa.Integer),
    sa.Column("filename", sa.Text, nullable=False),  # shown to people only
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("uploaded_by", sa.String(64), nullable=False),
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_attachments_warning", "theme", "as_of", "entity_id"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(40), nullable=False),  # ISO 8601 UTC text: hashed as stored, the same on every dialect
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False, index=True),
    sa.Column("object", sa.Text, nullable=False),
    sa.Column("details", sa.Text, nullable=False),  # canonical JSON
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("hmac", sa.String(64), nullable=False),
)

audit_heads = sa.Table(
    "audit_heads",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),  # UTC day of the events
    sa.Column("last_seq", sa.Integer, nullable=False),
    sa.Column("last_hash", sa.String(64), nullable=False),
    sa.Column("hmac", sa.String(64), nullable=False),
)

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

Migration = tuple[int, str, Callable[[sa.Connection], None]]

APP_TABLES = (users, sessions, dispositions, disposition_history, attachments, audit_log, audit_heads)


def _create(*tables: sa.Table) -> Callable[[sa.Connection], None]:
    return lambda connection: metadata.create_all(connection, tables=list(tables), checkfirst=True)


# Append only: a released migration is never edited. A future change adds (3, "...", function) with its ALTERs.
MIGRATIONS: tuple[Migration, ...] = (
    (1, "warnings and published runs", _create(warnings_table, published_runs)),
    (2, "users, sessions, dispositions, attachments, audit log", _create(*APP_TABLES)),
)


def engine_for(url: str) -> sa.Engine:
    """An engine without touching the schema; SQLite waits for a writer instead of failing at once."""
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_size=10, max_overflow=30)
    if url in ("sqlite://", "sqlite:///:memory:"):
        return sa.create_engine(url, connect_args={"check_same_thread": False}, poolclass=sa.StaticPool)
    return sa.create_engine(url, connect_args={"timeout": 30}, pool_size=10, max_overflow=30)


def use_wal(connection: sqlite3.Connection, patience: float = 30.0) -> None:
    """Switch a SQLite file to WAL (a persistent mode: once per file), so readers do not wait on writers.

    The switch, and the first open after a writer was killed (WAL recovery), can report "database is locked" at
    once, without waiting on the busy timeout: retry for up to `patience` seconds."""
    deadline = time.monotonic() + patience
    while True:
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that holds the database's write lock from its first statement.

    SQLite's default deferred transaction lets two writers read the same chain head and then fail (or, worse, fork the
    hash chain); `BEGIN IMMEDIATE` serialises them. PostgreSQL takes a transaction-scoped advisory lock.
    """
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif engine.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(74201)"))
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


def current_version(connection: sa.Connection) -> int:
    if not sa.inspect(connection).has_table("schema_version"):
        return 0
    return int(connection.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0)


def migrate(engine: sa.Engine, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Apply, in order and once each, the migrations a database has not had; return its schema version."""
    with write_transaction(engine) as connection:
        metadata.create_all(connection, tables=[schema_version], checkfirst=True)
        version = current_version(connection)
        for number, description, apply in migrations:
            if number <= version:
                continue
            apply(connection)
            connection.execute(
                schema_version.insert().values(version=number, description=description, applied_at=datetime.now(UTC))
            )
            version = number
    return version


def connect(url: str) -> sa.Engine:
    """An engine for the review database, bringing its schema up to date."""
    engine = engine_for(url)
    migrate(engine)
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
