"""S3/S4 no unmasked personal numbers, S7 export formulas neutralised, S8 path traversal, S9 cross-site POSTs."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from conftest import AS_OF, FIRE, FORMULA_NAMES, PII_NAMES, SECRET, THEME, World, csrf_of
from fastapi.testclient import TestClient

from review.auth import SESSION_COOKIE
from review.db import disposition_history
from review.exports import FORMULA_STARTS, neutralise

MOBILE = re.compile(r"(?<![\d*])1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9A-Z*])\d{17}[\dX](?![0-9A-Z])")
RUN = f"/warnings/{THEME}/{AS_OF.isoformat()}"


def _id_checksum_ok(text: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(text[:17], weights, strict=True)) % 11] == text[17]


def leaks(text: str) -> list[str]:
    """Unmasked mobile numbers and resident ID numbers (valid checksum) in a page."""
    ids = [m for m in ID_NUMBER.findall(text) if _id_checksum_ok(m)]
    return MOBILE.findall(text) + ids


def _pages(world: World) -> list[str]:
    planted = [r["entity_id"] for r in world.rows if r["entity_name"] in PII_NAMES]
    urls = [
        "/",
        RUN,
        RUN + "?page=2",
        RUN + "/export.csv",
        RUN + "?q=张三",
        "/kpis",
        f"/kpis?theme={THEME}",
        "/models",
        "/audit",
        "/admin/users",
        f"/warnings/{FIRE}/{AS_OF.isoformat()}",
    ]
    for entity in [*planted, world.ids["a"], world.fire[0]["entity_id"]]:
        theme = FIRE if entity.startswith("FL-") else THEME
        base = f"/warnings/{theme}/{AS_OF.isoformat()}/{entity}"
        urls += [base, base + "/dossier", f"/explanations/{theme}/{AS_OF.isoformat()}/{entity}"]
    return urls


def test_s3_s4_no_unmasked_numbers_in_any_page_or_export(world: World, clients: dict[str, TestClient]) -> None:
    planted = next(r for r in world.rows if r["entity_name"] == PII_NAMES[0])
    key = f"{RUN}/{planted['entity_id']}"
    supervisor = clients["supervisor"]
    note = "法人手机13800138000已约谈"  # a note typed with a phone number is shown masked too
    response = supervisor.post(
        key + "/disposition", data={"to_status": "interviewed", "notes": note, "csrf_token": csrf_of(supervisor)}
    )
    assert response.status_code == 303
    checked = 0
    for role in ("supervisor", "auditor", "reviewer", "data_scientist", "admin"):
        for url in _pages(world):
            response = clients[role].get(url)
            if response.status_code != 200:
                continue
            assert not leaks(response.text), f"{role} {url}: unmasked {leaks(response.text)}"
            assert "complainant" not in response.text and "投诉人" not in response.text
            checked += 1
    detail = supervisor.get(key).text
    assert "138****8000" in detail and "110105********0028" in supervisor.get(RUN + "?q=李四").text
    assert "139****5678" in supervisor.get(f"{RUN}/{world.rows[-1]['entity_id']}").text
    print(f"S3/S4: {checked} pages and exports scanned, 0 unmasked phone or ID numbers")
    assert checked > 60


def test_s7_export_neutralises_formulas(world: World, clients: dict[str, TestClient]) -> None:
    text = clients["supervisor"].get(RUN + "/export.csv").content.decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    dangerous = [c for c in cells if c.startswith(FORMULA_STARTS)]
    assert not dangerous, f"formula cells left: {dangerous[:5]}"
    neutralised = [c for c in cells if c.startswith("'") and c[1:].startswith(FORMULA_STARTS)]
    assert len(neutralised) >= len(FORMULA_NAMES)
    assert neutralise("=1+1") == "'=1+1" and neutralise("plain") == "plain" and neutralise(None) == ""
    print(f"S7: {len(cells)} exported cells, {len(neutralised)} formula cells neutralised, 0 left")


TRAVERSALS = (
    "../../../../secret.txt",
    "..%2F..%2F..%2F..%2Fsecret.txt",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt",
    "%252e%252e%252fsecret.txt",
    "..\\..\\..\\secret.txt",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "....//....//secret.txt",
    "secret.txt%00.html",
    "..",
    ".",
)


def _urls_with(world: World, payload: str) -> list[str]:
    a, day = world.ids["a"], AS_OF.isoformat()
    return [
        f"/warnings/{payload}/{day}/{a}/dossier",
        f"/warnings/{THEME}/{payload}/{a}/dossier",
        f"/warnings/{THEME}/{day}/{payload}/dossier",
        f"/warnings/{THEME}/{day}/{payload}",
        f"/warnings/{payload}/{day}",
        f"/warnings/{THEME}/{payload}/export.csv",
        f"/explanations/{THEME}/{day}/{payload}",
        f"/evidence/{payload}",
        f"/static/{payload}",
    ]


def raw_get(world: World, target: str, cookie: str) -> tuple[int, bytes]:
    """Send exactly this path to the app (an HTTP client would normalise `..` away before the server sees it)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(target),
        "raw_path": target.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(world.app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


def test_s8_path_traversal_serves_nothing(world: World, clients: dict[str, TestClient]) -> None:
    cookie = f"{SESSION_COOKIE}={clients['supervisor'].cookies[SESSION_COOKIE]}"
    passwd = Path("/etc/passwd").read_bytes()[:20]
    tried = 0
    for payload in TRAVERSALS:
        for url in _urls_with(world, payload):
            status, body = raw_get(world, url, cookie)
            tried += 1
            assert status in (400, 403, 404, 405, 422), f"{url}: {status}"
            assert SECRET.encode() not in body and passwd not in body, url
    print(f"S8: {tried} traversal requests (exact paths), 0 served")


def test_s8_symlinks_are_not_followed(world: World, clients: dict[str, TestClient]) -> None:
    supervisor, day = clients["supervisor"], AS_OF.isoformat()
    entity = world.in_town("蜀山街道")[1]["entity_id"]
    dossier = world.config.runs_dir / THEME / day / "dossiers" / f"{entity}.html"
    dossier.unlink()
    os.symlink(world.secret_path, dossier)
    response = supervisor.get(f"{RUN}/{entity}/dossier")
    assert SECRET not in response.text and response.status_code == 200  # the page built from the record instead
    # a whole run folder swapped for a symlink to a folder holding a copied dossier and manifest
    fire_run = world.config.runs_dir / FIRE / day
    outside = world.secret_path.parent / "outside_run"
    (outside / "dossiers").mkdir(parents=True)
    (outside / "manifest.json").write_text("{}")
    (outside / "dossiers" / f"{world.fire[0]['entity_id']}.html").write_text(SECRET)
    fire_run.rename(world.secret_path.parent / "fire_run_moved")
    os.symlink(outside, fire_run)
    response = supervisor.get(f"/warnings/{FIRE}/{day}/{world.fire[0]['entity_id']}/dossier")
    assert SECRET not in response.text
    stored = next((world.config.attachments_dir / world.ids["evidence_a"][:2]).iterdir())
    stored.unlink()
    os.symlink(world.secret_path, stored)
    assert supervisor.get(f"/evidence/{world.ids['evidence_a']}").status_code == 404


@pytest.mark.parametrize(
    ("case", "headers", "token"),
    [
        ("missing token", {}, None),
        ("forged token", {}, "forged-token"),
        ("other session's token", {}, "OTHER"),
        ("wrong origin", {"origin": "https://evil.example"}, "OWN"),
        ("null origin", {"origin": "null"}, "OWN"),
        ("cross-site fetch", {"sec-fetch-site": "cross-site"}, "OWN"),
        ("foreign referer", {"referer": "https://evil.example/form"}, "OWN"),
    ],
)
def test_s9_cross_site_posts_are_rejected(
    world: World, clients: dict[str, TestClient], case: str, headers: dict[str, str], token: str | None
) -> None:
    supervisor, entity = clients["supervisor"], world.in_town("蜀山街道")[2]["entity_id"]
    tokens = {"OWN": csrf_of(supervisor), "OTHER": csrf_of(clients["reviewer"])}
    data = {"to_status": "checking", "notes": "csrf"}
    if token is not None:
        data["csrf_token"] = tokens.get(token, token)
    response = supervisor.post(f"{RUN}/{entity}/disposition", data=data, headers=headers)
    assert response.status_code == 403, f"S9 {case}: {response.status_code}"
    with world.engine.connect() as connection:
        rows = connection.execute(disposition_history.select().where(disposition_history.c.entity_id == entity)).all()
    assert rows == [], f"S9 {case}: the state changed"


def test_s9_same_origin_post_passes_and_login_needs_its_token(world: World, clients: dict[str, TestClient]) -> None:
    supervisor, entity = clients["supervisor"], world.in_town("蜀山街道")[3]["entity_id"]
    data = {"to_status": "checking", "csrf_token": csrf_of(supervisor)}
    headers = {"origin": "http://testserver", "sec-fetch-site": "same-origin"}
    assert supervisor.post(f"{RUN}/{entity}/disposition", data=data, headers=headers).status_code == 303
    anonymous = TestClient(world.app, base_url="http://testserver", follow_redirects=False)
    anonymous.get("/login")
    response = anonymous.post("/login", data={"username": "admin", "password": "whatever-123", "login_token": "x"})
    assert response.status_code == 403


def test_security_headers(world: World, clients: dict[str, TestClient]) -> None:
    page = clients["supervisor"].get(RUN)
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp  # no script source at all
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["cache-control"] == "no-store"
    dossier = clients["supervisor"].get(f"{RUN}/{world.ids['a']}/dossier")
    assert "sandbox" in dossier.headers["content-security-policy"]
