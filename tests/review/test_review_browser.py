"""In a real headless Chromium against a real uvicorn server: S6 hostile names render inert, and the disposition
workflow end to end (sign in, list, dossier, 核查中 → 确认风险 with a note and evidence)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import AS_OF, HOSTILE_NAMES, PASSWORD, THEME, World, build_world
from review_live import CHROMIUM, CHROMIUM_ARGS, browser_login, live_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)"
    ),
]
RUN = f"/warnings/{THEME}/{AS_OF.isoformat()}"
INERT_CHECK = """() => ({
  scripts: document.scripts.length,
  handlers: [...document.querySelectorAll('*')]
      .filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
  jsLinks: [...document.querySelectorAll('[href],[src],[action]')].filter(e => /^\\s*javascript:/i.test(
      e.getAttribute('href') || e.getAttribute('src') || e.getAttribute('action') || '')).length,
  xss: window.__xss === undefined ? null : window.__xss,
  text: document.body.innerText,
})"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, str]]:
    world = build_world(tmp_path_factory.mktemp("browser"))
    with live_server(world.app) as base:
        yield world, base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_s6_hostile_names_render_inert(served: tuple[World, str], browser: Any) -> None:
    world, base = served
    hostile = world.ids["hostile"]
    (world.config.runs_dir / THEME / AS_OF.isoformat() / "dossiers" / f"{hostile[0]}.html").unlink()  # → fallback page
    # bypass_csp: the page's CSP would block inline scripts anyway; this proves the escaping alone keeps them inert
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    browser_login(page, base, "supervisor", PASSWORD)
    urls = [f"{RUN}?page=2", f"{RUN}?q=javascript"]
    for entity in hostile:
        urls += [f"{RUN}/{entity}", f"{RUN}/{entity}/dossier", f"/explanations/{THEME}/{AS_OF.isoformat()}/{entity}"]
    for url in urls:
        page.goto(base + url)
        page.wait_for_load_state("load")
        found = page.evaluate(INERT_CHECK)
        assert found["scripts"] == 0 and found["handlers"] == 0 and found["jsLinks"] == 0, (url, found)
        assert found["xss"] is None, f"{url}: a payload ran"
    page.goto(f"{base}{RUN}/{hostile[0]}")
    assert HOSTILE_NAMES[0] in page.evaluate(INERT_CHECK)["text"]  # shown as text, exactly
    assert dialogs == [], f"dialogs fired: {dialogs}"
    context.close()
    print(
        f"S6: {len(urls)} pages with {len(HOSTILE_NAMES)} hostile names in Chromium: 0 dialogs, 0 scripts, 0 handlers"
    )


def test_disposition_workflow_end_to_end(served: tuple[World, str], browser: Any, tmp_path: Path) -> None:
    world, base = served
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    browser_login(page, base, "reviewer", PASSWORD)
    page.click(f"a.run[href='{RUN}']")
    page.wait_for_url(f"{base}{RUN}")
    page.screenshot(path=str(tmp_path / "list.png"))
    first = page.locator("tr:has(.ds-pending) td.name a").first
    name = first.inner_text()
    first.click()
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == name
    warning_url = page.url
    page.click("a.button[href$='/dossier']")
    page.wait_for_load_state("load")
    assert "预警原因" in page.content()
    page.screenshot(path=str(tmp_path / "dossier.png"))
    page.goto(warning_url)
    evidence = tmp_path / "核查记录.txt"
    evidence.write_text("现场核查：门店已停业，会员卡无法退费。", encoding="utf-8")
    page.select_option("select[name=to_status]", "checking")
    page.fill("textarea[name=notes]", "已安排现场核查")
    page.set_input_files("input[name=evidence]", str(evidence))
    page.click("form[action$='/disposition'] button[type=submit]")
    page.wait_for_selector("p.ok")
    page.select_option("select[name=to_status]", "confirmed")
    page.fill("textarea[name=notes]", "核查确认：门店停业、拒绝退费，确认风险")
    page.click("form[action$='/disposition'] button[type=submit]")
    page.wait_for_selector("p.ok")
    history = page.inner_text("section.card:has(h2:text('处置记录'))")
    assert "核查中" in history and "确认风险" in history and "核查记录.txt" in history
    assert page.inner_text(".chip.ds-confirmed") == "确认风险"
    page.goto(base + f"/kpis?theme={THEME}")
    page.screenshot(path=str(tmp_path / "kpis.png"), full_page=True)
    assert int(page.inner_text(".kpi-cards .kpi:nth-child(2) .v")) >= 1
    audit = world.app.state.review.audit
    actions = [e["action"] for e in audit.events(60) if e["actor"] == "reviewer"]
    assert actions.count("disposition.transition") == 2 and "view.dossier" in actions
    assert audit.verify().ok
    context.close()
    assert all((tmp_path / f).stat().st_size > 10_000 for f in ("list.png", "dossier.png", "kpis.png"))
