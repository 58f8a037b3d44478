"""A review workspace per test module: sample warnings in three towns, planted hostile names, one user per role."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from review import dispositions as flow
from review import security
from review.app import create_app
from review.config import ReviewConfig
from review.evidence import save_evidence
from review.sample import make_uscc, sample_rows, seed
from review.users import add_user

# Production cost is n=2**14 (0.3 s a hash here, asserted in test_review_db); tests sign in often, so cheaper.
security.SCRYPT_N = 2**11
PASSWORD = "correct-horse-42"
THEME, FIRE = "prepaid_cards", "fire_lanes"
AS_OF = date(2026, 6, 30)
TOWN_A, TOWN_B, TOWN_C = "城厢街道", "北干街道", "蜀山街道"
SECRET = "TOP-SECRET-MARKER-7f3a"
ROLES = ("reviewer", "supervisor", "auditor", "data_scientist", "admin")
USERS: dict[str, tuple[str, list[str]]] = {
    "reviewer": ("reviewer", [TOWN_A]),
    "reviewer_b": ("reviewer", [TOWN_B]),
    "supervisor": ("supervisor", []),
    "auditor": ("auditor", []),
    "data_scientist": ("data_scientist", []),
    "admin": ("admin", []),
}
HOSTILE_NAMES = (
    "<script>window.__xss=1;alert(1)</script>杭州脚本测试有限公司",
    '<img src=x onerror="window.__xss=2;alert(2)">杭州图片测试店',
    "javascript:alert(3)",
    '"><svg onload="window.__xss=4;alert(4)"><a href="javascript:alert(5)">点我</a>',
)
FORMULA_NAMES = ('=HYPERLINK("http://evil.example","点击")', "+1+1", "-2+3", "@SUM(A1:A2)", "\tTAB", "\rCR", "＝1+1")
PII_NAMES = ("张三理发店13800138000", "李四健身110105199001010028工作室")
PII_REASON = "联系电话13912345678，身份证330109198001011234"


def _planted(names: tuple[str, ...], start: int, town: str) -> list[dict[str, Any]]:
    rows = sample_rows(len(names), [town], seed=start, start=start)
    for row, name in zip(rows, names, strict=True):
        row["entity_name"] = name
    return rows


@dataclass
class World:
    app: FastAPI
    config: ReviewConfig
    engine: sa.Engine
    rows: list[dict[str, Any]]
    fire: list[dict[str, Any]]
    secret_path: Path
    ids: dict[str, Any] = field(default_factory=dict)

    def in_town(self, town: str) -> list[dict[str, Any]]:
        """Prepaid-card warnings of a town."""
        return [r for r in self.rows if r["area"] == town]


def build_world(tmp: Path) -> World:
    config = ReviewConfig(
        db_url=f"sqlite:///{tmp / 'review.db'}",
        runs_dir=tmp / "runs",
        secret_key="k" * 48,
        attachments_dir=tmp / "evidence",
        cookie_secure=False,
        audit_anchor=tmp / "anchor" / "audit_heads.jsonl",
    )
    app = create_app(config)
    engine = app.state.review.engine
    rows = sample_rows(60, [TOWN_A, TOWN_B, TOWN_C])
    rows += _planted(HOSTILE_NAMES, 1000, TOWN_A) + _planted(FORMULA_NAMES, 2000, TOWN_A)
    rows += _planted(PII_NAMES, 3000, TOWN_A)
    rows[-1]["reasons"][0]["text_zh"] = PII_REASON
    for i, row in enumerate(rows):
        row["rank"] = i + 1
    seed(engine, config.runs_dir, THEME, AS_OF, rows=rows)
    fire = sample_rows(6, [TOWN_A, TOWN_B], seed=9, start=5000)
    for i, row in enumerate(fire):
        row["entity_id"], row["entity_group"] = f"FL-330109-{i:06d}", "old_community"
    seed(engine, config.runs_dir, FIRE, AS_OF, rows=fire, dossiers=False)
    for username, (role, towns) in USERS.items():
        add_user(engine, username, PASSWORD, role, towns)
    (tmp / "secret.txt").write_text(SECRET, "utf-8")
    world = World(app, config, engine, rows, fire, tmp / "secret.txt")
    world.ids |= {"a": world.in_town(TOWN_A)[0]["entity_id"], "b": world.in_town(TOWN_B)[0]["entity_id"]}
    world.ids |= {"fire_a": fire[0]["entity_id"], "hostile": [make_uscc(1000 + i) for i in range(len(HOSTILE_NAMES))]}
    world.ids |= {"evidence_a": _evidence(world, world.ids["a"]), "evidence_b": _evidence(world, world.ids["b"])}
    return world


def _evidence(world: World, entity_id: str) -> str:
    key = flow.WarningKey(THEME, AS_OF, entity_id)
    history = flow.transition(world.engine, key, flow.Change("checking", "现场核查"), "supervisor")
    return save_evidence(
        world.engine, world.config.attachments_dir, key, ("核查照片.png", b"\x89PNG fake"), "supervisor", history
    )


def login(app: FastAPI, username: str, password: str = PASSWORD) -> TestClient:
    """A client signed in through the real form (sign-in token cookie and all)."""
    client = TestClient(app, base_url="http://testserver", follow_redirects=False)
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token, "sign-in form without its token"
    response = client.post("/login", data={"username": username, "password": password, "login_token": token[1]})
    assert response.status_code == 303, f"sign-in of {username} failed: {response.status_code}"
    return client


def csrf_of(client: TestClient) -> str:
    page = client.get("/", follow_redirects=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no CSRF token on the home page"
    return token[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("review"))


@pytest.fixture(scope="module")
def clients(world: World) -> dict[str, TestClient]:
    return {username: login(world.app, username) for username in USERS}


@pytest.fixture
def audit_delta(world: World) -> Callable[[], int]:
    """How many audit events were written since the fixture (or the last call) was made."""
    state = {"count": world.app.state.review.audit.count()}

    def delta() -> int:
        now = world.app.state.review.audit.count()
        added, state["count"] = now - state["count"], now
        return added

    return delta
