"""S11 every view, export and disposition leaves an audit event; S12 tampering with the audit log is detected."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import AS_OF, THEME, World, csrf_of, login
from fastapi.testclient import TestClient

from review.audit import GENESIS, AuditLog, event_hash
from review.db import connect
from review.security import keyed_digest

KEY = "audit-key-" + "x" * 40
RUN = f"/warnings/{THEME}/{AS_OF.isoformat()}"


def test_s11_every_view_export_and_disposition_is_audited(
    world: World, clients: dict[str, TestClient], audit_delta: Callable[[], int]
) -> None:
    a, fire = world.ids["a"], world.fire[0]["entity_id"]
    sup, aud, ds, adm = clients["supervisor"], clients["auditor"], clients["data_scientist"], clients["admin"]
    gets = [
        (sup, "/", "view.home"),
        (sup, RUN, "view.list"),
        (sup, RUN + "/export.csv", "export.csv"),
        (sup, f"{RUN}/{a}", "view.warning"),
        (sup, f"{RUN}/{a}/dossier", "view.dossier"),
        (sup, f"/warnings/fire_lanes/{AS_OF.isoformat()}/{fire}/dossier", "view.dossier"),
        (sup, f"/evidence/{world.ids['evidence_a']}", "evidence.download"),
        (sup, "/kpis", "view.kpis"),
        (aud, "/audit", "view.audit"),
        (aud, "/audit/verify", "audit.verify"),
        (aud, f"/explanations/{THEME}/{AS_OF.isoformat()}/{a}", "view.explanation"),
        (ds, "/models", "view.models"),
        (adm, "/admin/users", "view.users"),
        (ds, f"{RUN}/{a}", "access.denied"),
    ]
    audit = world.app.state.review.audit
    for client, url, action in gets:
        audit_delta()
        assert client.get(url).status_code in (200, 403), url
        assert audit_delta() >= 1 and audit.events(1)[0]["action"] == action, f"{url}: no {action} event"
    entity = world.in_town("城厢街道")[5]["entity_id"]
    posts = [
        (sup, f"{RUN}/{entity}/disposition", {"to_status": "checking", "notes": "核查"}, "disposition.transition"),
        (sup, f"{RUN}/{entity}/assign", {"assignee": "reviewer", "due_date": "2026-07-10"}, "disposition.assign"),
        (adm, "/admin/users", {"username": "new.person", "password": "long-enough-pw", "role": "auditor"}, "user.add"),
        (adm, "/admin/users/new.person", {"role": "auditor", "active": ""}, "user.update"),
        (aud, f"{RUN}/{entity}/disposition", {"to_status": "confirmed", "notes": "x"}, "access.denied"),
    ]
    for client, url, data, action in posts:
        token = csrf_of(client)
        audit_delta()
        assert client.post(url, data={**data, "csrf_token": token}).status_code in (303, 403), url
        assert audit_delta() >= 1 and audit.events(1)[0]["action"] == action, f"{url}: no {action} event"
    fresh = login(world.app, "auditor")
    assert audit.events(1)[0]["action"] == "login"
    fresh.post("/logout", data={"csrf_token": csrf_of(fresh)})
    assert audit.events(1)[0]["action"] == "logout"
    print(f"S11: {len(gets) + len(posts) + 2} kinds of request, each left its audit event")
    assert audit.verify().ok


def _days(path: Path, anchor: Path) -> AuditLog:
    """A log over three days (the anchor file receives the first two closed days)."""
    log = AuditLog(connect(f"sqlite:///{path}"), KEY, anchor)
    start = datetime(2026, 6, 28, 9, tzinfo=UTC)
    for i in range(24):
        log.record(f"user{i % 3}", "view.list", f"list:{i}", {"page": i}, at=start + timedelta(hours=2 * i))
    return log


def _rows(db: sqlite3.Connection) -> list[tuple]:  # type: ignore[type-arg]
    return db.execute(
        "SELECT seq, at, actor, action, object, details, prev_hash, hash FROM audit_log ORDER BY seq"
    ).fetchall()


def _rewrite_with_key(db: sqlite3.Connection) -> None:
    """An insider holding the server key edits day one and re-signs the whole chain and every head."""
    db.execute("UPDATE audit_log SET details = '{\"page\":999}' WHERE seq = 2")
    prev = GENESIS
    for seq, at, actor, action, obj, details, _, _ in _rows(db):
        digest = event_hash(seq, at, actor, action, obj, details, prev)
        db.execute(
            "UPDATE audit_log SET prev_hash=?, hash=?, hmac=? WHERE seq=?",
            (prev, digest, keyed_digest(KEY, digest), seq),
        )
        prev = digest
    for day, seq in db.execute("SELECT day, last_seq FROM audit_heads").fetchall():
        digest = db.execute("SELECT hash FROM audit_log WHERE seq=?", (seq,)).fetchone()[0]
        db.execute(
            "UPDATE audit_heads SET last_hash=?, hmac=? WHERE day=?",
            (digest, keyed_digest(KEY, f"{day}|{seq}|{digest}"), day),
        )


def _rehash_without_key(db: sqlite3.Connection) -> None:
    db.execute("UPDATE audit_log SET details = '{\"page\":0}' WHERE seq = 5")
    seq, at, actor, action, obj, details, prev, _ = _rows(db)[4]
    db.execute("UPDATE audit_log SET hash=? WHERE seq=5", (event_hash(seq, at, actor, action, obj, details, prev),))


def _swap(db: sqlite3.Connection) -> None:
    columns = "at, actor, action, object, details, prev_hash, hash, hmac"
    four = db.execute(f"SELECT {columns} FROM audit_log WHERE seq=4").fetchone()
    five = db.execute(f"SELECT {columns} FROM audit_log WHERE seq=5").fetchone()
    setter = ", ".join(f"{c.strip()}=?" for c in columns.split(","))
    db.execute(f"UPDATE audit_log SET {setter} WHERE seq=4", (*five,))
    db.execute(f"UPDATE audit_log SET {setter} WHERE seq=5", (*four,))


def _truncate_and_fake_head(db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM audit_log WHERE seq > 21")
    digest = db.execute("SELECT hash FROM audit_log WHERE seq=21").fetchone()[0]
    db.execute("UPDATE audit_heads SET last_seq=21, last_hash=?, hmac=? WHERE day='2026-06-30'", (digest, "0" * 64))


def _insert_forged(db: sqlite3.Connection) -> None:
    db.execute("UPDATE audit_log SET seq = seq + 100 WHERE seq > 10")
    db.execute("UPDATE audit_log SET seq = seq - 99 WHERE seq > 100")
    db.execute(
        "INSERT INTO audit_log VALUES (11, '2026-06-29T10:00:00+00:00', 'ghost', 'view.list', 'x', '{}', ?, ?, ?)",
        ("0" * 64, "0" * 64, "0" * 64),
    )


TAMPERS: dict[str, Callable[[sqlite3.Connection], object]] = {
    "edit details": lambda db: db.execute("UPDATE audit_log SET details='{\"page\":-1}' WHERE seq=5"),
    "edit actor": lambda db: db.execute("UPDATE audit_log SET actor='someone-else' WHERE seq=9"),
    "edit and rehash without the key": _rehash_without_key,
    "delete one event": lambda db: db.execute("DELETE FROM audit_log WHERE seq=7"),
    "swap two events": _swap,
    "swap sequence numbers": lambda db: db.executescript(
        "UPDATE audit_log SET seq=-1 WHERE seq=4; UPDATE audit_log SET seq=4 WHERE seq=5; "
        "UPDATE audit_log SET seq=5 WHERE seq=-1;"
    ),
    "insert a forged event": _insert_forged,
    "truncate the newest events": lambda db: db.execute("DELETE FROM audit_log WHERE seq > 21"),
    "truncate and fake the head": _truncate_and_fake_head,
    "delete a day's head": lambda db: db.execute("DELETE FROM audit_heads WHERE day='2026-06-29'"),
    "empty the log": lambda db: db.execute("DELETE FROM audit_log"),
    "insider with the key rewrites a closed day": _rewrite_with_key,
}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("audit")
    _days(folder / "audit.db", folder / "anchor.jsonl")
    return folder


def test_s12_clean_log_verifies(clean: Path) -> None:
    result = AuditLog(connect(f"sqlite:///{clean / 'audit.db'}"), KEY, clean / "anchor.jsonl").verify()
    assert result.ok and result.events == 24 and result.days == 3, result.problems
    assert len((clean / "anchor.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("name", list(TAMPERS))
def test_s12_tampering_is_detected(clean: Path, tmp_path: Path, name: str) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(clean, copy)
    with sqlite3.connect(copy / "audit.db") as db:
        TAMPERS[name](db)
    result = AuditLog(connect(f"sqlite:///{copy / 'audit.db'}"), KEY, copy / "anchor.jsonl").verify()
    assert not result.ok, f"S12: '{name}' went undetected"
    print(f"S12 {name}: detected — {result.problems[0]}")
