"""Screenshots of the review app for docs/screenshots/, from a real workspace (e.g. one made by `riskgen demo`).

    python tests/review/screenshots.py --home /tmp/demo1 --out docs/screenshots

The workspace is not changed: its review database is copied to a temporary folder, staff accounts are added, and the
older runs get a plausible research history (about one warning in eight confirmed, as in Xiaoshan's 161 of 1,198),
dated a few days after each warning, so the KPI page has something to show. Run folders and dossiers are served
as they are.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from review_live import CHROMIUM, CHROMIUM_ARGS, browser_login, live_server

from features.reference import TOWNS
from review import dispositions as flow
from review.app import create_app
from review.config import ReviewConfig
from review.db import disposition_history, dispositions, warnings_table
from review.users import add_user

PASSWORD = "screenshot-password"
THEME = "prepaid_cards"


def research_history(engine: sa.Engine, rng: random.Random) -> None:
    """Dispositions for most warnings of the older runs and some of the newest, dated after each warning."""
    with engine.connect() as connection:
        query = sa.select(warnings_table.c.theme, warnings_table.c.as_of, warnings_table.c.entity_id)
        rows = connection.execute(query.where(warnings_table.c.theme == THEME)).all()
    newest = max(r.as_of for r in rows)
    for row in rows:
        if rng.random() > (0.85 if row.as_of < newest else 0.3):
            continue
        key = flow.WarningKey(*row)
        start = datetime.combine(row.as_of, time(9, 30), UTC) + timedelta(
            days=rng.randint(1, 3), hours=rng.randint(0, 6)
        )
        flow.assign(engine, key, "wang.fang", row.as_of + timedelta(days=15), "chen.jun")
        flow.transition(
            engine, key, flow.Change(rng.choice(["checking", "interviewed"]), "已安排现场核查"), "wang.fang"
        )
        _backdate(engine, key, start, decided=False)
        if row.as_of == newest and rng.random() < 0.7:
            continue
        result = "confirmed" if rng.random() < 0.134 else "excluded"
        note = "核查确认风险，已约谈并督促退费" if result == "confirmed" else "经核查经营正常，排除"
        flow.transition(engine, key, flow.Change(result, note), "wang.fang")
        _backdate(engine, key, start + timedelta(days=rng.randint(1, 18)), decided=True)


def _backdate(engine: sa.Engine, key: flow.WarningKey, moment: datetime, decided: bool) -> None:
    """Move the warning's latest step (and its state) to `moment`."""
    h, d = disposition_history, dispositions
    match_h = sa.and_(h.c.theme == key.theme, h.c.as_of == key.as_of, h.c.entity_id == key.entity_id)
    match_d = sa.and_(d.c.theme == key.theme, d.c.as_of == key.as_of, d.c.entity_id == key.entity_id)
    with engine.begin() as connection:
        last = connection.execute(sa.select(sa.func.max(h.c.id)).where(match_h)).scalar()
        connection.execute(h.update().where(h.c.id == last).values(at=moment))
        if not decided:
            connection.execute(h.update().where(match_h, h.c.action == "assign").values(at=moment - timedelta(hours=2)))
        values = {"updated_at": moment, **({"decided_at": moment} if decided else {})}
        connection.execute(d.update().where(match_d).values(**values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/demo1"))
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(args.home / "review" / "review.db", Path(tmp) / "review.db")
        config = ReviewConfig(
            db_url=f"sqlite:///{tmp}/review.db",
            runs_dir=args.home / "runs",
            secret_key="s" * 48,
            attachments_dir=Path(tmp) / "evidence",
            cookie_secure=False,
        )
        app = create_app(config)
        engine = app.state.review.engine
        add_user(engine, "wang.fang", PASSWORD, "reviewer", list(TOWNS), display_name="王芳")
        add_user(engine, "chen.jun", PASSWORD, "supervisor", display_name="陈军")
        research_history(engine, random.Random(11))
        shoot(app, args.out)


def shoot(app: object, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with live_server(app) as base, sync_playwright() as playwright:  # type: ignore[arg-type]
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, "--lang=zh-CN"])
        page = browser.new_page(viewport={"width": 1440, "height": 960}, locale="zh-CN", timezone_id="Asia/Shanghai")
        browser_login(page, base, "chen.jun", PASSWORD)
        latest = page.locator(f"a.run[href^='/warnings/{THEME}/']").first.get_attribute("href")
        page.goto(base + str(latest))
        page.screenshot(path=str(out / "warning_list.png"))
        page.locator("tr:has(.ds-checking) td.name a, tr:has(.ds-interviewed) td.name a").first.click()
        page.wait_for_selector("h1")
        page.screenshot(path=str(out / "warning_disposition.png"), full_page=True)
        page.click("a.button[href$='/dossier']")
        page.wait_for_load_state("load")
        page.screenshot(path=str(out / "dossier.png"))
        page.goto(f"{base}/kpis?theme={THEME}")
        page.screenshot(path=str(out / "kpis.png"), full_page=True)
        browser.close()
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main()
