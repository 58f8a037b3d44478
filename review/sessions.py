"""Server-side sessions: the cookie holds a random token, the database only its keyed digest, a CSRF token and times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from review.db import sessions, users
from review.security import keyed_digest, new_token
from review.users import User, _user

TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most once a minute per session


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: datetime


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; every time we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def create_session(engine: sa.Engine, key: str, username: str, lifetime: timedelta) -> tuple[str, str]:
    """Start a session; returns (cookie token, CSRF token)."""
    token, csrf = new_token(), new_token()
    now = datetime.now(UTC)
    row: dict[str, Any] = {"token_hash": keyed_digest(key, token), "username": username, "csrf_token": csrf}
    row |= {"created_at": now, "expires_at": now + lifetime, "last_seen_at": now}
    with engine.begin() as connection:
        connection.execute(sessions.delete().where(sessions.c.expires_at < now))
        connection.execute(sessions.insert().values(**row))
    return token, csrf


def load_session(engine: sa.Engine, key: str, token: str | None, idle: timedelta) -> Session | None:
    """The live session of an active user for this cookie token, or None (unknown, forged, expired or idle)."""
    if not token or len(token) > 128:
        return None
    digest = keyed_digest(key, token)
    query = sa.select(users, sessions.c.csrf_token, sessions.c.expires_at, sessions.c.last_seen_at).join_from(
        sessions, users, users.c.username == sessions.c.username
    )
    with engine.connect() as connection:
        row = connection.execute(query.where(sessions.c.token_hash == digest)).first()
    if row is None or not row.active:
        return None
    now = datetime.now(UTC)
    expires, seen = _aware(row.expires_at), _aware(row.last_seen_at)
    if now >= expires or now - seen >= idle:
        end_session(engine, key, token)
        return None
    if now - seen >= TOUCH_EVERY:
        with engine.begin() as connection:
            connection.execute(sessions.update().where(sessions.c.token_hash == digest).values(last_seen_at=now))
    return Session(_user(row), row.csrf_token, expires)


def end_session(engine: sa.Engine, key: str, token: str | None) -> None:
    if not token:
        return
    with engine.begin() as connection:
        connection.execute(sessions.delete().where(sessions.c.token_hash == keyed_digest(key, token)))


def end_user_sessions(connection: sa.Connection, username: str) -> None:
    """Log a user out everywhere (deactivation, password change)."""
    connection.execute(sessions.delete().where(sessions.c.username == username))
