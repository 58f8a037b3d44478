"""The review database: idempotent pushes, versioned migrations, users and password hashes."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from review import db, security
from review.sample import sample_rows
from review.users import UserError, add_user, authenticate, get_user, update_user

AS_OF = date(2026, 6, 30)


def _rows(n: int) -> list[dict[str, object]]:
    return [{**r, "run_dir": "/runs/x", "model_version": "1"} for r in sample_rows(n, ["城厢街道"])]


def test_push_is_an_idempotent_upsert(tmp_path: Path) -> None:
    engine = db.connect(f"sqlite:///{tmp_path / 'r.db'}")
    assert db.push_run(engine, "prepaid_cards", AS_OF, "m1", _rows(30)) == 30
    assert db.push_run(engine, "prepaid_cards", AS_OF, "m1", _rows(30)) == 0  # same manifest: nothing
    assert db.already_pushed(engine, "prepaid_cards", AS_OF, "m1")
    changed = _rows(30)
    changed[0]["tier"] = "yellow"
    assert db.push_run(engine, "prepaid_cards", AS_OF, "m2", changed) == 30  # a corrected run: upserted
    pushed = db.pushed_warnings(engine, "prepaid_cards", AS_OF)
    assert len(pushed) == 30 and pushed[0]["tier"] == "yellow" and json.loads(pushed[0]["reasons"])


def test_migrations_bring_an_old_database_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sa.create_engine(f"sqlite:///{path}")
    db.metadata.create_all(old, tables=[db.warnings_table, db.published_runs])  # a database from before the app
    db.push_run(old, "prepaid_cards", AS_OF, "m1", _rows(3))
    engine = db.connect(f"sqlite:///{path}")
    with engine.connect() as connection:
        assert db.current_version(connection) == 2
        assert {"users", "audit_log", "dispositions"} <= set(sa.inspect(connection).get_table_names())
    assert len(db.pushed_warnings(engine, "prepaid_cards")) == 3


def test_a_future_migration_runs_once_in_order(tmp_path: Path) -> None:
    engine = db.connect(f"sqlite:///{tmp_path / 'r.db'}")
    applied: list[int] = []

    def add_column(connection: sa.Connection) -> None:
        applied.append(3)
        connection.exec_driver_sql("ALTER TABLE dispositions ADD COLUMN priority INTEGER")

    future = (*db.MIGRATIONS, (3, "disposition priority", add_column))
    assert db.migrate(engine, future) == 3 and db.migrate(engine, future) == 3
    assert applied == [3]
    with sqlite3.connect(tmp_path / "r.db") as raw:
        columns = [row[1] for row in raw.execute("PRAGMA table_info(dispositions)")]
        versions = [row[0] for row in raw.execute("SELECT version FROM schema_version ORDER BY version")]
    assert "priority" in columns and versions == [1, 2, 3]


def test_users(tmp_path: Path) -> None:
    engine = db.connect(f"sqlite:///{tmp_path / 'r.db'}")
    add_user(engine, "wang.fang", "a-long-password", "reviewer", ["城厢街道", "北干街道"], display_name="王芳")
    user = get_user(engine, "wang.fang")
    assert user is not None and user.towns == ("城厢街道", "北干街道") and user.covers("北干街道")
    assert not user.covers("蜀山街道") and not user.covers(None)
    with pytest.raises(UserError, match="exists"):
        add_user(engine, "wang.fang", "a-long-password", "reviewer", ["城厢街道"])
    for bad in [("Bad Name", "reviewer", ["x"]), ("ok", "overlord", []), ("ok2", "reviewer", [])]:
        with pytest.raises(UserError):
            add_user(engine, bad[0], "a-long-password", bad[1], bad[2])
    with pytest.raises(UserError, match="at least"):
        add_user(engine, "shorty", "short", "auditor")
    assert authenticate(engine, "wang.fang", "a-long-password") is not None
    assert authenticate(engine, "wang.fang", "wrong-password") is None
    assert authenticate(engine, "nobody", "a-long-password") is None
    update_user(engine, "wang.fang", active=False)
    assert authenticate(engine, "wang.fang", "a-long-password") is None


def test_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "SCRYPT_N", 2**14)  # the production cost
    stored = security.hash_password("a-long-password")
    scheme, n, r, p, salt, _digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1") and len(bytes.fromhex(salt)) == 16
    assert stored != security.hash_password("a-long-password")  # a fresh salt every time
    assert security.verify_password("a-long-password", stored)
    assert not security.verify_password("a-long-passwort", stored)
    assert not security.verify_password("x", "garbage") and not security.verify_password("x", None)


def test_the_switch_to_wal_waits_out_a_lock_that_fails_at_once(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    switcher = sqlite3.connect(path, timeout=0, isolation_level=None)  # no busy wait: "locked" comes at once
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        switcher.execute("PRAGMA journal_mode=WAL")
    release = threading.Timer(0.3, holder.execute, ("COMMIT",))
    release.start()
    db.use_wal(switcher, patience=10)
    release.join()
    assert switcher.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    holder.close()
    switcher.close()


def test_the_switch_to_wal_gives_up_after_its_patience(tmp_path: Path) -> None:
    holder = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    switcher = sqlite3.connect(tmp_path / "r.db", timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        db.use_wal(switcher, patience=0.2)
    holder.close()
    switcher.close()
