"""Staff accounts: roles, the towns a reviewer covers, scrypt password hashes. The CLI `riskgen users` calls these."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from review.audit import AuditLog
from review.db import users
from review.security import hash_password, verify_password

ROLES: tuple[str, ...] = ("reviewer", "supervisor", "auditor", "data_scientist", "admin")
ROLE_LABELS: dict[str, tuple[str, str]] = {
    "reviewer": ("研判人员", "reviewer"),
    "supervisor": ("主管", "supervisor"),
    "auditor": ("审计人员", "auditor"),
    "data_scientist": ("数据分析师", "data scientist"),
    "admin": ("系统管理员", "administrator"),
}
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{1,63}$")


class UserError(ValueError):
    """A user could not be created or changed (bad name, role, towns or password)."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    towns: tuple[str, ...]
    active: bool
    display_name: str

    def covers(self, town: str | None) -> bool:
        """A reviewer sees only warnings of their towns; every other role is not limited by town."""
        return self.role != "reviewer" or (town is not None and town in self.towns)


def _user(row: Any) -> User:
    towns = tuple(json.loads(row.towns or "[]"))
    return User(row.username, row.role, towns, bool(row.active), row.display_name or row.username)


def _check(username: str, role: str, towns: tuple[str, ...]) -> None:
    if not _USERNAME.match(username):
        raise UserError(f"username {username!r}: 2–64 lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise UserError(f"role {role!r}: one of {', '.join(ROLES)}")
    if role == "reviewer" and not towns:
        raise UserError("a reviewer needs at least one town (镇街)")
    if any(not t.strip() or len(t) > 64 for t in towns):
        raise UserError("town names must be non-empty and at most 64 characters")


def add_user(
    engine: sa.Engine,
    username: str,
    password: str,
    role: str,
    towns: tuple[str, ...] | list[str] = (),
    *,
    display_name: str | None = None,
    audit: AuditLog | None = None,
    actor: str = "cli",
) -> User:
    """Create an active user; raises UserError when the name is taken or a value is invalid."""
    clean = tuple(t.strip() for t in towns)
    _check(username, role, clean)
    try:
        digest = hash_password(password)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    now = datetime.now(UTC)
    row: dict[str, Any] = {
        "username": username,
        "password_hash": digest,
        "role": role,
        "towns": json.dumps(clean, ensure_ascii=False),
    }
    row |= {"display_name": display_name or username, "active": True, "created_at": now, "updated_at": now}
    try:
        with engine.begin() as connection:
            connection.execute(users.insert().values(**row))
    except sa.exc.IntegrityError as exc:
        raise UserError(f"user {username!r} already exists") from exc
    if audit is not None:
        audit.record(actor, "user.add", f"user:{username}", {"role": role, "towns": list(clean)})
    return User(username, role, clean, True, display_name or username)


def get_user(engine: sa.Engine, username: str) -> User | None:
    with engine.connect() as connection:
        row = connection.execute(sa.select(users).where(users.c.username == username)).first()
    return _user(row) if row else None


def list_users(engine: sa.Engine) -> list[User]:
    with engine.connect() as connection:
        return [_user(r) for r in connection.execute(sa.select(users).order_by(users.c.role, users.c.username))]


def update_user(
    engine: sa.Engine,
    username: str,
    *,
    role: str | None = None,
    towns: tuple[str, ...] | list[str] | None = None,
    active: bool | None = None,
    password: str | None = None,
    audit: AuditLog | None = None,
    actor: str = "cli",
) -> User:
    """Change a user's role, towns, active flag or password; raises UserError for an unknown user or bad value."""
    current = get_user(engine, username)
    if current is None:
        raise UserError(f"no user {username!r}")
    new_role = role or current.role
    new_towns = tuple(t.strip() for t in towns) if towns is not None else current.towns
    _check(username, new_role, new_towns)
    values: dict[str, Any] = {"role": new_role, "towns": json.dumps(new_towns, ensure_ascii=False)}
    values |= {"active": current.active if active is None else active, "updated_at": datetime.now(UTC)}
    if password:
        try:
            values["password_hash"] = hash_password(password)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
    with engine.begin() as connection:
        connection.execute(users.update().where(users.c.username == username).values(**values))
        if values["active"] is False or password:
            from review.sessions import end_user_sessions

            end_user_sessions(connection, username)
    if audit is not None:
        changed = {"role": new_role, "towns": list(new_towns), "active": values["active"], "password": bool(password)}
        audit.record(actor, "user.update", f"user:{username}", changed)
    return User(username, new_role, new_towns, bool(values["active"]), current.display_name)


def deactivate_user(engine: sa.Engine, username: str, *, audit: AuditLog | None = None, actor: str = "cli") -> User:
    return update_user(engine, username, active=False, audit=audit, actor=actor)


def set_password(
    engine: sa.Engine, username: str, password: str, *, audit: AuditLog | None = None, actor: str = "cli"
) -> User:
    return update_user(engine, username, password=password, audit=audit, actor=actor)


def authenticate(engine: sa.Engine, username: str, password: str) -> User | None:
    """The active user with this name and password, or None (the same cost whether or not the name exists)."""
    with engine.connect() as connection:
        row = connection.execute(sa.select(users).where(users.c.username == username)).first()
    ok = verify_password(password, row.password_hash if row else None)
    if not ok or row is None or not row.active:
        return None
    return _user(row)
