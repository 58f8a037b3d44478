"""S1 role × endpoint matrix, S2 town scoping, S10 expired/forged sessions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import AS_OF, FIRE, PASSWORD, THEME, TOWN_A, TOWN_B, World, csrf_of, login
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from review.auth import SESSION_COOKIE
from review.db import sessions
from review.security import keyed_digest
from review.users import update_user

PUBLIC, ALL = "public", frozenset({"reviewer", "supervisor", "auditor", "data_scientist", "admin"})
READERS = frozenset({"reviewer", "supervisor", "auditor", "data_scientist"})
CASEWORK = frozenset({"reviewer", "supervisor", "auditor"})
W = "/warnings/{theme}/{as_of}"
E = W + "/{entity_id}"
# The policy, written independently of review.permissions: a new route fails the test until it is added here.
EXPECTED: dict[tuple[str, str], str | frozenset[str]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): ALL,
    ("GET", "/"): ALL,
    ("GET", W): READERS,
    ("GET", W + "/export.csv"): READERS,
    ("GET", E): CASEWORK,
    ("GET", E + "/dossier"): CASEWORK,
    ("POST", E + "/disposition"): frozenset({"reviewer", "supervisor"}),
    ("POST", E + "/assign"): frozenset({"supervisor"}),
    ("GET", "/evidence/{attachment_id}"): CASEWORK,
    ("GET", "/kpis"): READERS,
    ("GET", "/audit"): frozenset({"auditor"}),
    ("GET", "/audit/verify"): frozenset({"auditor"}),
    ("GET", "/explanations/{theme}/{as_of}/{entity_id}"): frozenset({"supervisor", "auditor"}),
    ("GET", "/models"): frozenset({"data_scientist", "auditor"}),
    ("GET", "/admin/users"): frozenset({"admin", "auditor"}),
    ("POST", "/admin/users"): frozenset({"admin"}),
    ("POST", "/admin/users/{username}"): frozenset({"admin"}),
}
# Harmless bodies: an allowed role passes the gate and is then refused by validation (no state changes).
BODIES = {
    E + "/disposition": {"to_status": "bogus"},
    E + "/assign": {"assignee": "nobody"},
    "/admin/users": {"username": "X", "password": "short", "role": "reviewer"},
    "/admin/users/{username}": {"role": "no-such-role"},
}


def _walk(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute of the app, including those of included routers (FastAPI includes them lazily)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += _walk(route.original_router.routes)
    return found


def app_routes(world: World) -> list[tuple[str, str]]:
    return sorted((m, r.path) for r in _walk(world.app.routes) for m in r.methods if m != "HEAD")


def fill(world: World, path: str) -> str:
    values = {"theme": THEME, "as_of": AS_OF.isoformat(), "entity_id": world.ids["a"], "username": "data_scientist"}
    values["attachment_id"] = world.ids["evidence_a"]
    return re.sub(r"\{(\w+)\}", lambda m: values[m[1]], path)


def call(world: World, client: TestClient, method: str, path: str) -> int:
    url = fill(world, path)
    if method == "GET":
        return client.get(url).status_code
    data = {**BODIES.get(path, {}), "csrf_token": csrf_of(client)}
    return client.post(url, data=data).status_code


def test_every_route_is_in_the_matrix(world: World) -> None:
    assert set(app_routes(world)) == set(EXPECTED), "a route is missing from (or extra in) the S1 matrix"


def test_s1_role_endpoint_matrix(world: World, clients: dict[str, TestClient]) -> None:
    checked, refused = 0, 0
    for method, path in app_routes(world):
        if (method, path) in {("POST", "/logout"), ("POST", "/login")}:
            continue  # signing out would end the shared sessions; both are covered in S9/S10
        allowed = EXPECTED[(method, path)]
        for role in ("reviewer", "supervisor", "auditor", "data_scientist", "admin"):
            status = call(world, clients[role], method, path)
            checked += 1
            if allowed == PUBLIC or role in allowed:
                assert status != 403 and status < 500, f"{role} {method} {path}: {status}, expected access"
            else:
                refused += 1
                assert status == 403, f"{role} {method} {path}: {status}, expected 403"
    print(f"S1: {checked} role × endpoint checks, {refused} refused with 403, {checked - refused} allowed")
    assert refused > 30


def test_s1_signed_out_gets_nothing(world: World) -> None:
    anonymous = TestClient(world.app, base_url="http://testserver", follow_redirects=False)
    for method, path in app_routes(world):
        if EXPECTED[(method, path)] == PUBLIC:
            continue
        status = (
            call(world, anonymous, method, path) if method == "GET" else anonymous.post(fill(world, path)).status_code
        )
        assert status in (303, 401), f"signed out {method} {path}: {status}"


def test_s1_auditor_is_read_only(world: World, clients: dict[str, TestClient]) -> None:
    page = clients["auditor"].get(fill(world, E)).text
    assert 'action="/warnings' not in page, "an auditor must not be shown a disposition form"


def test_s2_reviewer_sees_only_own_town(world: World, clients: dict[str, TestClient]) -> None:
    reviewer = clients["reviewer"]
    b_rows = world.in_town(TOWN_B)
    assert b_rows
    refused = 0
    for row in b_rows:
        base = f"/warnings/{THEME}/{AS_OF.isoformat()}/{row['entity_id']}"
        for url in (base, base + "/dossier"):
            assert reviewer.get(url).status_code == 403, url
            refused += 1
        post = reviewer.post(base + "/disposition", data={"to_status": "checking", "csrf_token": csrf_of(reviewer)})
        assert post.status_code == 403
        refused += 1
    assert reviewer.get(f"/evidence/{world.ids['evidence_b']}").status_code == 403
    assert reviewer.get(f"{W.format(theme=THEME, as_of=AS_OF)}?town={TOWN_B}").status_code == 403
    export = reviewer.get(f"/warnings/{THEME}/{AS_OF.isoformat()}/export.csv").text
    assert TOWN_A in export and TOWN_B not in export
    search = reviewer.get(f"/warnings/{THEME}/{AS_OF.isoformat()}?q={b_rows[0]['entity_id']}").text
    assert "共 0 条" in search and b_rows[0]["entity_id"] not in search.split("<tbody>")[1]
    fire_b = next(r for r in world.fire if r["area"] == TOWN_B)
    assert reviewer.get(f"/warnings/{FIRE}/{AS_OF.isoformat()}/{fire_b['entity_id']}/dossier").status_code == 403
    own = reviewer.get(f"/warnings/{THEME}/{AS_OF.isoformat()}/{world.ids['a']}/dossier")
    assert own.status_code == 200
    print(f"S2: {refused + 4} cross-town requests refused; own-town dossier served")


def _session_of(world: World, username: str) -> tuple[TestClient, str]:
    client = login(world.app, username)
    return client, client.cookies[SESSION_COOKIE]


def _is_signed_out(client: TestClient) -> bool:
    response = client.get("/")
    return response.status_code == 303 and response.headers["location"].startswith("/login")


def _age(world: World, token: str, column: str, hours: float) -> None:
    past = datetime.now(UTC) - timedelta(hours=hours)
    digest = keyed_digest(world.config.secret_key, token)
    with world.engine.begin() as connection:
        connection.execute(sessions.update().where(sessions.c.token_hash == digest).values({column: past}))


@pytest.mark.parametrize("case", ["expired", "idle", "forged", "tampered", "db_digest", "deactivated", "logged_out"])
def test_s10_dead_sessions_are_rejected(world: World, case: str) -> None:
    username = "auditor" if case != "deactivated" else "data_scientist"
    client, token = _session_of(world, username)
    assert client.get("/").status_code == 200
    if case == "expired":
        _age(world, token, "expires_at", 0.01)
    elif case == "idle":
        _age(world, token, "last_seen_at", 1.0)
    elif case == "forged":
        client.cookies.set(SESSION_COOKIE, "A" * 43)
    elif case == "tampered":
        client.cookies.set(SESSION_COOKIE, token[:-1] + ("A" if token[-1] != "A" else "B"))
    elif case == "db_digest":  # a token hash read from the database is not a valid cookie
        with world.engine.connect() as connection:
            digest = connection.execute(sa.select(sessions.c.token_hash).limit(1)).scalar()
        client.cookies.set(SESSION_COOKIE, digest)
    elif case == "deactivated":
        update_user(world.engine, username, active=False)
    elif case == "logged_out":
        stolen = token
        client.post("/logout", data={"csrf_token": csrf_of(client)})
        client.cookies.set(SESSION_COOKIE, stolen)
    try:
        assert _is_signed_out(client), f"S10 {case}: a dead session was accepted"
        assert client.get(f"/warnings/{THEME}/{AS_OF.isoformat()}/export.csv").status_code == 303
    finally:
        if case == "deactivated":
            update_user(world.engine, username, active=True, password=PASSWORD)


def test_s10_cookie_flags(world: World) -> None:
    client = TestClient(world.app, base_url="http://testserver", follow_redirects=False)
    token = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text)
    assert token
    response = client.post("/login", data={"username": "auditor", "password": PASSWORD, "login_token": token[1]})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie


def test_wrong_password_and_throttle(world: World) -> None:
    client = TestClient(world.app, base_url="http://testserver", follow_redirects=False)
    statuses = []
    for _ in range(6):
        token = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text)
        assert token
        statuses.append(
            client.post(
                "/login", data={"username": "admin", "password": "wrong-password-1", "login_token": token[1]}
            ).status_code
        )
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    world.app.state.review.throttle.succeeded("admin")
