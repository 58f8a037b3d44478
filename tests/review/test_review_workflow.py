"""The disposition workflow, A6, the research outcomes loop, KPIs, list features and the language toggle."""

from __future__ import annotations

import re
from datetime import date

import polars as pl
import pytest
import sqlalchemy as sa
from conftest import AS_OF, THEME, TOWN_A, World, csrf_of
from fastapi.testclient import TestClient

from features.contracts import get_contract
from features.validation import validate_frame
from review import dispositions as flow
from review.db import dispositions
from review.kpis import compute_kpis
from review.outcomes import RESEARCH_OUTCOMES, export_research_outcomes, under_disposition, write_research_outcomes

RUN = f"/warnings/{THEME}/{AS_OF.isoformat()}"


def _key(world: World, index: int) -> flow.WarningKey:
    return flow.WarningKey(THEME, AS_OF, world.in_town(TOWN_A)[index]["entity_id"])


def test_transitions_follow_the_workflow(world: World) -> None:
    key = _key(world, 10)
    with pytest.raises(flow.DispositionError):  # no decision without research first
        flow.transition(world.engine, key, flow.Change("confirmed", "直接认定"), "supervisor")
    flow.transition(world.engine, key, flow.Change("checking", "安排核查"), "reviewer")
    with pytest.raises(flow.DispositionError, match="note"):  # a decision needs a note
        flow.transition(world.engine, key, flow.Change("excluded", "  "), "reviewer")
    flow.transition(world.engine, key, flow.Change("excluded", "经核查经营正常"), "reviewer")
    with pytest.raises(flow.DispositionError):  # decided warnings are closed ...
        flow.transition(world.engine, key, flow.Change("checking", "again"), "reviewer")
    flow.transition(world.engine, key, flow.Change("checking", "新线索，重新核查", reopen=True), "supervisor")
    steps = [(h["from_status"], h["to_status"], h["actor"]) for h in flow.history(world.engine, key)]
    assert steps == [
        ("pending", "checking", "reviewer"),
        ("checking", "excluded", "reviewer"),
        ("excluded", "checking", "supervisor"),
    ]


def test_only_a_supervisor_reopens(world: World, clients: dict[str, TestClient]) -> None:
    key = _key(world, 11)
    flow.transition(world.engine, key, flow.Change("checking", "核查"), "reviewer")
    flow.transition(world.engine, key, flow.Change("confirmed", "确认"), "reviewer")
    url = f"{RUN}/{key.entity_id}/disposition"
    reviewer = clients["reviewer"]
    refused = reviewer.post(url, data={"to_status": "checking", "notes": "x", "csrf_token": csrf_of(reviewer)})
    assert refused.status_code == 403 and flow.current(world.engine, key)["status"] == "confirmed"
    sup = clients["supervisor"]
    assert sup.post(url, data={"to_status": "checking", "notes": "复核", "csrf_token": csrf_of(sup)}).status_code == 303


def test_a6_no_enforcement_state_without_a_human_disposition(world: World) -> None:
    assert flow.enforcement_without_human(world.engine) == []
    bypass = _key(world, 12)
    with world.engine.begin() as connection:  # a state written around the workflow (a script, a bad migration)
        connection.execute(
            dispositions.insert().values(
                theme=THEME,
                as_of=AS_OF,
                entity_id=bypass.entity_id,
                status="confirmed",
                updated_by="script",
                updated_at=sa.func.now(),
            )
        )
    assert flow.enforcement_without_human(world.engine) == [bypass]
    with world.engine.begin() as connection:
        connection.execute(dispositions.delete().where(dispositions.c.entity_id == bypass.entity_id))
    print("A6: 0 warnings in 已约谈/确认风险 without a recorded step by a reviewer or supervisor; a bypass is flagged")


def test_outcomes_close_the_loop(world: World) -> None:
    confirmed, excluded = _key(world, 13), _key(world, 14)
    for key, result in ((confirmed, "confirmed"), (excluded, "excluded")):
        flow.transition(world.engine, key, flow.Change("interviewed", "约谈负责人"), "reviewer")
        flow.transition(world.engine, key, flow.Change(result, "研判结论"), "reviewer")
    frame = export_research_outcomes(world.engine, THEME)
    assert frame.schema == pl.Schema(RESEARCH_OUTCOMES.schema)
    results = dict(zip(frame["uscc"], frame["result"], strict=True))
    assert results[confirmed.entity_id] == "confirmed" and results[excluded.entity_id] == "excluded"
    assert get_contract("research_outcomes") is RESEARCH_OUTCOMES
    checked = validate_frame(frame, RESEARCH_OUTCOMES, as_of=date(2100, 1, 1))
    assert checked.quarantined.height == 0 and checked.accepted.height == frame.height
    assert (frame["decided_at"] >= AS_OF).all()
    assert confirmed.entity_id not in under_disposition(world.engine, THEME)
    path = write_research_outcomes(world.engine, world.config.runs_dir.parent / "outcomes", THEME)
    assert pl.read_parquet(path).equals(frame)


def test_kpis(world: World) -> None:
    k = compute_kpis(world.engine, THEME, None)
    assert k.pushed == len(world.rows)
    assert k.researched == k.confirmed + k.excluded and k.researched >= 2
    assert k.confirmation_rate == pytest.approx(k.confirmed / k.researched)
    assert k.median_days is not None and k.median_days >= 0
    scoped = compute_kpis(world.engine, THEME, (TOWN_A,))
    assert scoped.pushed == len(world.in_town(TOWN_A))


def test_kpi_page_has_an_inline_chart(clients: dict[str, TestClient]) -> None:
    page = clients["supervisor"].get(f"/kpis?theme={THEME}").text
    assert "<svg" in page and "确认率" in page and "<script" not in page


def _ranks(page: str) -> list[int]:
    body = page.split("<tbody>")[1]
    return [int(x) for x in re.findall(r'<td class="num">(\d+)</td>', body)]


def test_list_filters_sort_search_and_pages(world: World, clients: dict[str, TestClient]) -> None:
    sup = clients["supervisor"]
    first = sup.get(RUN).text
    assert _ranks(first) == list(range(1, 51)) and "第 1 / 2 页" in first
    assert _ranks(sup.get(RUN + "?page=2").text) == list(range(51, len(world.rows) + 1))
    assert _ranks(sup.get(RUN + "?sort=rank&order=desc").text)[0] == len(world.rows)
    red = sup.get(RUN + "?tier=red").text
    assert "tier-orange" not in red.split("<tbody>")[1] and "tier-red" in red
    town = sup.get(RUN + f"?town={TOWN_A}").text.split("<tbody>")[1]
    assert TOWN_A in town and "北干街道" not in town
    target = world.rows[7]
    by_id = sup.get(RUN + f"?q={target['entity_id'][:12].lower()}").text
    assert target["entity_id"] in by_id.split("<tbody>")[1]
    assert "共 1 条" in sup.get(RUN + f"?q={target['entity_name']}").text
    assert sup.get(RUN + "?q=%25").status_code == 200 and "共 0 条" in sup.get(RUN + "?q=%25_").text
    assert sup.get(RUN + "?sort=drop+table&page=-3&tier=<b>").status_code == 200
    assert sup.get(f"/warnings/{THEME}/2020-01-01").status_code == 404


def test_language_toggle(clients: dict[str, TestClient]) -> None:
    sup = clients["supervisor"]
    english = sup.get(RUN + "?lang=en")
    assert "Warning lists" in english.text and "rg_lang=en" in english.headers["set-cookie"]
    assert "Probability" in sup.get(RUN).text  # the cookie keeps the choice
    assert "风险概率" in sup.get(RUN + "?lang=zh").text


def test_evidence_upload_is_stored_under_an_id(world: World, clients: dict[str, TestClient]) -> None:
    key = _key(world, 15)
    sup = clients["supervisor"]
    files = {"evidence": ("../../../etc/现场照片.png", b"\x89PNG evidence", "image/png")}
    data = {"to_status": "checking", "notes": "附现场照片", "csrf_token": csrf_of(sup)}
    assert sup.post(f"{RUN}/{key.entity_id}/disposition", data=data, files=files).status_code == 303
    page = sup.get(f"{RUN}/{key.entity_id}").text
    evidence_id = re.search(r'href="/evidence/([0-9a-f]{32})">现场照片.png', page)
    assert evidence_id, "the upload is listed under its display name"
    stored = list(world.config.attachments_dir.rglob(evidence_id[1]))
    assert len(stored) == 1 and stored[0].parent.parent == world.config.attachments_dir
    download = sup.get(f"/evidence/{evidence_id[1]}")
    assert download.content == b"\x89PNG evidence" and "attachment" in download.headers["content-disposition"]
    bad = {"evidence": ("payload.html", b"<script>alert(1)</script>", "text/html")}
    data = {"to_status": "interviewed", "notes": "x", "csrf_token": csrf_of(sup)}
    assert sup.post(f"{RUN}/{key.entity_id}/disposition", data=data, files=bad).status_code == 400
    assert flow.current(world.engine, key)["status"] == "checking"
