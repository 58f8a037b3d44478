"""The disposition workflow of a pushed warning: 待研判 → 核查中 / 已约谈 → 确认风险 / 已排除.

Every change is one row of `disposition_history` written in the same transaction as the current state, by a named
person. A warning never reaches an enforcement state (已约谈, 确认风险) without such a recorded human decision (A6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from review.db import disposition_history, dispositions, users, write_transaction

STATUSES: tuple[str, ...] = ("pending", "checking", "interviewed", "confirmed", "excluded")
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "pending": ("待研判", "pending"),
    "checking": ("核查中", "checking"),
    "interviewed": ("已约谈", "interviewed"),
    "confirmed": ("确认风险", "confirmed risk"),
    "excluded": ("已排除", "excluded"),
}
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "pending": ("checking", "interviewed"),
    "checking": ("interviewed", "confirmed", "excluded"),
    "interviewed": ("checking", "confirmed", "excluded"),
    "confirmed": (),
    "excluded": (),
}
FINAL: frozenset[str] = frozenset({"confirmed", "excluded"})
ENFORCEMENT: frozenset[str] = frozenset({"interviewed", "confirmed"})
REOPEN_TO = "checking"  # a supervisor may reopen a decided warning, with a note
DECIDERS: tuple[str, ...] = ("reviewer", "supervisor")
MAX_NOTE = 4000


class WarningKey(NamedTuple):
    theme: str
    as_of: date
    entity_id: str

    def label(self) -> str:
        return f"warning:{self.theme}/{self.as_of.isoformat()}/{self.entity_id}"


class DispositionError(ValueError):
    """A transition that the workflow does not allow, or a missing note."""


@dataclass(frozen=True)
class Change:
    """One requested change: the new status, a note, an optional due date."""

    to_status: str
    notes: str = ""
    due_date: date | None = None
    reopen: bool = False  # only a supervisor's change may reopen a decided warning


def _where(table: sa.Table, key: WarningKey) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.theme == key.theme, table.c.as_of == key.as_of, table.c.entity_id == key.entity_id)


def current(engine: sa.Engine | sa.Connection, key: WarningKey) -> dict[str, Any]:
    """The warning's disposition; a warning nobody has touched is 待研判 (pending)."""
    query = sa.select(dispositions).where(_where(dispositions, key))
    if isinstance(engine, sa.Connection):
        row = engine.execute(query).first()
    else:
        with engine.connect() as connection:
            row = connection.execute(query).first()
    if row is None:
        return {"status": "pending", "assignee": None, "due_date": None, "notes": None, "updated_by": None}
    return dict(row._mapping)


def allowed_next(status: str, reopen: bool = False) -> tuple[str, ...]:
    if status in FINAL and reopen:
        return (REOPEN_TO,)
    return TRANSITIONS.get(status, ())


def _validate(status: str, change: Change) -> None:
    if change.to_status not in STATUSES:
        raise DispositionError(f"unknown status {change.to_status!r}")
    if change.to_status not in allowed_next(status, change.reopen):
        raise DispositionError(f"{status} → {change.to_status} is not an allowed step")
    if (change.to_status in FINAL or status in FINAL) and not change.notes.strip():
        raise DispositionError("a decision (确认风险/已排除) or a reopening needs a note")
    if len(change.notes) > MAX_NOTE:
        raise DispositionError(f"notes are limited to {MAX_NOTE} characters")


def transition(engine: sa.Engine, key: WarningKey, change: Change, actor: str) -> int:
    """Move the warning to a new status; returns the history row id. Raises DispositionError when not allowed."""
    now = datetime.now(UTC)
    with write_transaction(engine) as connection:
        state = current(connection, key)
        _validate(state["status"], change)
        decided = now if change.to_status in FINAL else None
        due = change.due_date or state.get("due_date")
        values = {"status": change.to_status, "notes": change.notes, "due_date": due, "decided_at": decided}
        values |= {"updated_by": actor, "updated_at": now}
        _upsert(connection, key, values, state.get("assignee"))
        step = {"action": "transition", "from_status": state["status"], "to_status": change.to_status}
        step |= {"assignee": state.get("assignee"), "due_date": due, "notes": change.notes}
        return _history(connection, key, step, actor, now)


def assign(engine: sa.Engine, key: WarningKey, assignee: str | None, due_date: date | None, actor: str) -> int:
    """Set who researches the warning and by when (status unchanged); returns the history row id."""
    now = datetime.now(UTC)
    with write_transaction(engine) as connection:
        state = current(connection, key)
        values = {"status": state["status"], "assignee": assignee, "due_date": due_date}
        values |= {"updated_by": actor, "updated_at": now}
        _upsert(connection, key, values, assignee)
        step = {"action": "assign", "from_status": state["status"], "to_status": state["status"]}
        step |= {"assignee": assignee, "due_date": due_date, "notes": None}
        return _history(connection, key, step, actor, now)


def _upsert(connection: sa.Connection, key: WarningKey, values: dict[str, Any], assignee: str | None) -> None:
    updated = connection.execute(dispositions.update().where(_where(dispositions, key)).values(**values))
    if not updated.rowcount:
        connection.execute(dispositions.insert().values(**key._asdict(), **{"assignee": assignee, **values}))


def _history(connection: sa.Connection, key: WarningKey, step: dict[str, Any], actor: str, at: datetime) -> int:
    row = {**key._asdict(), **step, "actor": actor, "at": at}
    result = connection.execute(disposition_history.insert().values(**row))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def history(engine: sa.Engine, key: WarningKey) -> list[dict[str, Any]]:
    """Every change of the warning, oldest first."""
    query = sa.select(disposition_history).where(_where(disposition_history, key)).order_by(disposition_history.c.id)
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(query)]


def enforcement_without_human(engine: sa.Engine) -> list[WarningKey]:
    """A6: warnings in an enforcement state with no recorded step into it by a reviewer or supervisor."""
    h, d = disposition_history, dispositions
    decided = (
        sa.select(h.c.id)
        .join(users, users.c.username == h.c.actor)
        .where(h.c.theme == d.c.theme, h.c.as_of == d.c.as_of, h.c.entity_id == d.c.entity_id)
        .where(h.c.to_status == d.c.status, h.c.action == "transition", users.c.role.in_(DECIDERS))
    )
    query = sa.select(d.c.theme, d.c.as_of, d.c.entity_id).where(d.c.status.in_(ENFORCEMENT), ~decided.exists())
    with engine.connect() as connection:
        return [WarningKey(*row) for row in connection.execute(query)]
