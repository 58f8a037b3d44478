"""Our own run ledger: started / finished / failed / crashed, with the pid, independent of Prefect's state.

A SIGKILLed Prefect flow run stays `Running` on the server forever; the ledger tells a dead attempt from a live one
by asking the kernel whether its pid still exists.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from features.atomic import process_alive
from review.db import use_wal

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    theme TEXT NOT NULL,
    as_of TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    message TEXT
)
"""


def _now() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="seconds")


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        use_wal(connection)
        connection.execute(SCHEMA)
        yield connection
    finally:
        connection.close()


class Ledger:
    """Run records in a SQLite file (WAL, so concurrent runs of other dates do not block each other)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def start(self, run_id: str, theme: str, as_of: date) -> None:
        with _connect(self.path) as db:
            db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, 'started', ?, NULL, NULL)",
                (run_id, theme, as_of.isoformat(), os.getpid(), socket.gethostname(), _now()),
            )

    def finish(self, run_id: str, status: str, message: str = "") -> None:
        with _connect(self.path) as db:
            db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, message = ? WHERE run_id = ?",
                (status, _now(), message, run_id),
            )

    def mark_crashed(self, theme: str, as_of: date) -> int:
        """Mark `started` attempts of this date whose process is gone on this host as crashed; return how many."""
        host = socket.gethostname()
        with _connect(self.path) as db:
            rows = db.execute(
                "SELECT run_id, pid FROM runs WHERE theme = ? AND as_of = ? AND status = 'started' AND host = ?",
                (theme, as_of.isoformat(), host),
            ).fetchall()
            dead = [run_id for run_id, pid in rows if not process_alive(pid)]
            for run_id in dead:
                db.execute("UPDATE runs SET status = 'crashed', finished_at = ? WHERE run_id = ?", (_now(), run_id))
        return len(dead)

    def history(self, theme: str | None = None) -> list[dict[str, Any]]:
        with _connect(self.path) as db:
            db.row_factory = sqlite3.Row
            query = "SELECT * FROM runs" + (" WHERE theme = ?" if theme else "") + " ORDER BY started_at, run_id"
            return [dict(r) for r in db.execute(query, (theme,) if theme else ())]
