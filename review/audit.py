"""The audit log: an append-only hash chain, each event signed with the server key, and a signed head per day.

Each event's hash covers its content and the previous event's hash, so an edit, a deletion or a swap breaks the chain;
the HMAC (server key) stops someone with database access from rewriting the chain from the edit onward; the daily
head (also signed, and optionally copied to an append-only anchor file once the day is closed) catches truncation of
the newest events, which a chain alone cannot see.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from review.db import audit_heads, audit_log, write_transaction
from review.security import keyed_digest, same

GENESIS = "0" * 64


def canonical(details: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(details or {}), ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def event_hash(seq: int, at: str, actor: str, action: str, obj: str, details: str, prev_hash: str) -> str:
    payload = json.dumps([seq, at, actor, action, obj, details, prev_hash], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _head_message(day: str, seq: int, digest: str) -> str:
    return f"{day}|{seq}|{digest}"


def _append_anchor(anchor: Path, head: dict[str, Any]) -> None:
    """Copy a closed day's head to the append-only anchor file (fsynced)."""
    anchor.parent.mkdir(parents=True, exist_ok=True)
    with open(anchor, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(head, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


@dataclass
class Verification:
    """The result of checking the whole log: ok, how many events and days were checked, and every problem found."""

    events: int = 0
    days: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditLog:
    """Records and verifies audit events in the review database."""

    def __init__(self, engine: sa.Engine, key: str, anchor: Path | None = None) -> None:
        self.engine = engine
        self.key = key
        self.anchor = anchor
        # One writer per process at a time: threads queue here in order instead of in SQLite's busy-sleep loop,
        # which otherwise gives a few unlucky requests multi-second waits under load. Other processes still
        # serialise on the database lock (write_transaction).
        self._lock = threading.Lock()

    def record(
        self, actor: str, action: str, obj: str, details: Mapping[str, Any] | None = None, *, at: datetime | None = None
    ) -> int:
        """Append one event and move its day's head; returns the event's sequence number (`at` is for tests)."""
        body = canonical(details)
        with self._lock, write_transaction(self.engine) as connection:
            # the time is taken under the lock, so sequence order and time order (and so the daily heads) agree
            moment = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
            last = connection.execute(
                sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
            ).first()
            seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
            digest = event_hash(seq, moment, actor, action, obj, body, prev)
            row = {"seq": seq, "at": moment, "actor": actor, "action": action, "object": obj, "details": body}
            row |= {"prev_hash": prev, "hash": digest, "hmac": keyed_digest(self.key, digest)}
            connection.execute(audit_log.insert().values(**row))
            self._move_head(connection, moment[:10], seq, digest)
        return seq

    def _move_head(self, connection: sa.Connection, day: str, seq: int, digest: str) -> None:
        signature = keyed_digest(self.key, _head_message(day, seq, digest))
        updated = connection.execute(
            audit_heads.update().where(audit_heads.c.day == day).values(last_seq=seq, last_hash=digest, hmac=signature)
        )
        if updated.rowcount:
            return
        closed = connection.execute(sa.select(audit_heads).order_by(audit_heads.c.day.desc()).limit(1)).first()
        connection.execute(audit_heads.insert().values(day=day, last_seq=seq, last_hash=digest, hmac=signature))
        if closed is not None and self.anchor is not None:
            _append_anchor(self.anchor, dict(closed._mapping))

    def events(self, limit: int = 100, offset: int = 0, action: str | None = None) -> list[dict[str, Any]]:
        """The newest events first."""
        query = sa.select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit).offset(offset)
        if action:
            query = query.where(audit_log.c.action == action)
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(query)]

    def count(self, action: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(audit_log)
        if action:
            query = query.where(audit_log.c.action == action)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar() or 0)

    def verify(self) -> Verification:
        """Check every event, the chain, the HMACs, the daily heads and the anchor file."""
        result = Verification()
        with self.engine.connect() as connection:
            rows = list(connection.execute(sa.select(audit_log).order_by(audit_log.c.seq)))
            heads = [dict(r._mapping) for r in connection.execute(sa.select(audit_heads).order_by(audit_heads.c.day))]
        last_of_day = self._check_chain(rows, result)
        self._check_heads(heads, last_of_day, rows, result)
        self._check_anchor(heads, result)
        result.events, result.days = len(rows), len(last_of_day)
        return result

    def _check_chain(self, rows: list[sa.Row[Any]], result: Verification) -> dict[str, tuple[int, str]]:
        prev, expected, last_of_day = GENESIS, 1, {}
        for row in rows:
            if row.seq != expected:
                gap = f"{expected}" if row.seq - 1 == expected else f"{expected}–{row.seq - 1}"
                result.problems.append(f"event(s) {gap} missing (deleted)")
            if row.prev_hash != prev:
                result.problems.append(f"event {row.seq}: link to the previous event is broken (deleted or swapped)")
            digest = event_hash(row.seq, row.at, row.actor, row.action, row.object, row.details, row.prev_hash)
            if digest != row.hash:
                result.problems.append(f"event {row.seq}: content does not match its hash (edited)")
            if not same(keyed_digest(self.key, row.hash), row.hmac):
                result.problems.append(f"event {row.seq}: signature invalid (rewritten without the server key)")
            last_of_day[row.at[:10]] = (row.seq, row.hash)
            prev, expected = row.hash, row.seq + 1
        return last_of_day

    def _check_heads(
        self,
        heads: list[dict[str, Any]],
        last_of_day: dict[str, tuple[int, str]],
        rows: list[sa.Row[Any]],
        result: Verification,
    ) -> None:
        by_seq = {row.seq: row.hash for row in rows}
        for head in heads:
            message = _head_message(head["day"], head["last_seq"], head["last_hash"])
            if not same(keyed_digest(self.key, message), head["hmac"]):
                result.problems.append(f"head of {head['day']}: signature invalid")
            if by_seq.get(head["last_seq"]) != head["last_hash"]:
                result.problems.append(
                    f"head of {head['day']}: event {head['last_seq']} is missing or changed (log truncated or edited)"
                )
            elif last_of_day.get(head["day"]) != (head["last_seq"], head["last_hash"]):
                result.problems.append(f"head of {head['day']}: the day's last event differs from its head")
        missing = sorted(set(last_of_day) - {h["day"] for h in heads})
        if missing:
            result.problems.append(f"no signed head for days {missing}")
        if rows and heads and heads[-1]["last_seq"] != rows[-1].seq:
            result.problems.append(
                f"the newest head names event {heads[-1]['last_seq']}, the log ends at {rows[-1].seq}"
            )
        if not rows and heads:
            result.problems.append("the log is empty but heads exist (log truncated)")

    def _check_anchor(self, heads: list[dict[str, Any]], result: Verification) -> None:
        if self.anchor is None or not self.anchor.exists():
            return
        stored = {h["day"]: (h["last_seq"], h["last_hash"]) for h in heads}
        for line in self.anchor.read_text(encoding="utf-8").splitlines():
            anchored = json.loads(line)
            if stored.get(anchored["day"]) != (anchored["last_seq"], anchored["last_hash"]):
                result.problems.append(f"head of {anchored['day']} differs from the anchor file")
