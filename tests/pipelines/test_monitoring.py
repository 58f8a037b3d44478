"""Monitoring on real runs: three nightly runs of the small prepaid world, research results recorded through the
review workflow in the real SQLite database, the champion's registered training distribution, and the report.

Every figure is checked against an independent computation from the run folders: PSI of the score by hand from the
registered bins, the migration matrix against the nightly's own status column (new / escalated / dropped ...), tier
sizes against the manifest, confirmation rates against the decisions recorded here.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from features.loading import file_sha256
from risk_models.monitoring import Thresholds, level_of

THEME = "prepaid_cards"
RUNS = (date(2026, 4, 30), date(2026, 5, 31), date(2026, 6, 30))
SECTIONS = ("alerts", "score-psi", "feature-psi", "tier-sizes", "migration", "confirmation", "sectors")
# (run, tier) -> (confirmed, excluded) recorded by staff in the review database
DECISIONS = {(RUNS[2], "red"): (3, 1), (RUNS[2], "orange"): (1, 9), (RUNS[1], "red"): (2, 0)}


@dataclass(frozen=True)
class Monitored:
    home: Path
    decided: dict[tuple[date, str], list[str]]


def _decide(decided: dict[tuple[date, str], list[str]]) -> None:
    from pipelines import settings
    from review.db import connect, pushed_warnings
    from review.dispositions import Change, WarningKey, transition

    engine = connect(settings.review_db_url())
    for (as_of, tier), (confirmed, excluded) in DECISIONS.items():
        rows = [r for r in pushed_warnings(engine, THEME, as_of) if r["tier"] == tier][: confirmed + excluded]
        assert len(rows) == confirmed + excluded, f"too few {tier} warnings on {as_of}"
        for i, row in enumerate(rows):
            key = WarningKey(THEME, as_of, row["entity_id"])
            transition(engine, key, Change("checking"), "reviewer")
            result = "confirmed" if i < confirmed else "excluded"
            transition(engine, key, Change(result, notes="研判结论 (test)"), "reviewer")
            decided.setdefault((as_of, result), []).append(row["entity_id"])


@pytest.fixture(scope="module")
def monitored(nightly_world: Any, tmp_path_factory: pytest.TempPathFactory) -> Monitored:
    from pipelines.nightly import RunRequest, run_theme
    from risk_models.themes import load_theme

    home = tmp_path_factory.mktemp("monitoring") / "home"
    shutil.copytree(nightly_world.home / "mlflow", home / "mlflow")
    decided: dict[tuple[date, str], list[str]] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RISKGEN_HOME", str(home))
        for name in ("MLFLOW_TRACKING_URI", "RISKGEN_REVIEW_DB", "RISKGEN_FAULT_AT"):
            patch.delenv(name, raising=False)
        for as_of in RUNS:
            run_theme(RunRequest(load_theme(THEME), as_of, nightly_world.world, nightly_world.model, dossier_top=3))
        _decide(decided)
    return Monitored(home, decided)


@pytest.fixture
def home(monitored: Monitored, monkeypatch: pytest.MonkeyPatch) -> Iterator[Monitored]:
    monkeypatch.setenv("RISKGEN_HOME", str(monitored.home))
    for name in ("MLFLOW_TRACKING_URI", "RISKGEN_REVIEW_DB"):
        monkeypatch.delenv(name, raising=False)
    yield monitored


def _score_psi_by_hand(reference: dict[str, Any], run_dir: Path) -> float:
    """Count the run's probabilities into the registered bins with plain comparisons, then the PSI formula."""
    edges, expected = reference["score"]["edges"], reference["score"]["shares"]
    scores = pl.read_parquet(run_dir / "scores.parquet")["probability"].to_list()
    bounds = [-math.inf, *edges, math.inf]
    counts = [sum(1 for p in scores if lo < p <= hi) for lo, hi in itertools.pairwise(bounds)]
    actual = [c / len(scores) for c in counts] + [0.0]  # no missing probabilities
    floored = [(max(e, 1e-4), max(a, 1e-4)) for e, a in zip(expected, actual, strict=True)]
    return sum((a - e) * math.log(a / e) for e, a in floored)


def _registered_reference() -> dict[str, Any]:
    from model_registry.registry import Registry
    from pipelines import settings

    registry = Registry.open(settings.registry_uri())
    champion = registry.champion(THEME)
    assert champion is not None
    raw = registry.artifact(THEME, champion.version, "evaluation/drift_reference.json")
    assert raw is not None, "the champion was registered with its training distribution"
    reference: dict[str, Any] = json.loads(raw)
    return reference


def test_monitoring_figures_match_the_runs_and_the_decisions(home: Monitored) -> None:
    from pipelines.monitoring import monitor_theme
    from pipelines.runs import read_manifest
    from risk_models.themes import load_theme

    outcome = monitor_theme(load_theme(THEME))  # default window: 90 days up to the last published run
    assert (outcome.start, outcome.end, outcome.runs) == (date(2026, 4, 2), RUNS[-1], 3)
    folder = outcome.folder
    assert folder == home.home / "monitoring" / THEME / "2026-04-02_2026-06-30"
    data = json.loads((folder / "monitoring.json").read_text(encoding="utf-8"))
    assert data["files"] == {n: file_sha256(folder / n) for n in ("report.html", "summary.md")}
    cached = sorted((folder.parent / ".psi-cache").glob("*.json"))  # PSI per (run, reference), reused next time
    assert [p.name[:10] for p in cached] == [d.isoformat() for d in RUNS]

    reference = _registered_reference()
    assert reference["source"]["split"] == "train" and reference["source"]["rows"] > 1000
    runs_dir = home.home / "runs" / THEME
    for run in data["runs"]:
        run_dir = runs_dir / run["as_of"]
        manifest = read_manifest(run_dir)
        assert run["by_tier"] == {t: manifest["summary"]["by_tier"].get(t, 0) for t in ("red", "orange", "yellow")}
        assert run["cohort"] == manifest["counts"]["cohort"] and run["reference"] == "training"
        assert sum(run["by_group"].values()) == run["listed"] == manifest["summary"]["listed"]
        assert run["score_psi"] == pytest.approx(_score_psi_by_hand(reference, run_dir), abs=1e-9)
        assert set(run["feature_psi"]) == set(reference["features"]) and min(run["feature_psi"].values()) >= 0

    # the migration matrix agrees with the status the nightly gave every entity against the run before
    assert data["runs"][0]["migration"] is None  # nothing before the first run
    for run in data["runs"][1:]:
        states, counts = run["migration"]["states"], run["migration"]["counts"]
        status = dict(
            pl.read_parquet(runs_dir / run["as_of"] / "warnings.parquet").group_by("status").len().iter_rows()
        )
        n = len(states) - 1  # the last state is "not listed"
        assert sum(counts[n][:n]) == status.get("new", 0)
        assert sum(counts[i][n] for i in range(n)) == status.get("dropped", 0)
        assert sum(counts[i][j] for i in range(n) for j in range(i)) == status.get("escalated", 0)
        assert sum(counts[i][j] for i in range(n) for j in range(i + 1, n)) == status.get("de-escalated", 0)
        assert sum(counts[i][i] for i in range(n)) == status.get("persisting", 0)

    pooled = data["confirmation"]["pooled"]
    assert (pooled["red"]["confirmed"], pooled["red"]["researched"]) == (5, 6)
    assert (pooled["orange"]["confirmed"], pooled["orange"]["researched"]) == (1, 10)
    assert pooled["all"]["rate"] == pytest.approx(6 / 16)
    assert pooled["all"]["pushed"] == sum(r["listed"] for r in data["runs"])
    by_run = {r["as_of"]: r["by_tier"] for r in data["confirmation"]["by_run"]}
    assert by_run["2026-06-30"]["red"]["rate"] == 0.75 and by_run["2026-05-31"]["red"]["rate"] == 1.0

    # alerts: every drifted feature, and the confirmation rate against the champion's test precision
    limits, alerts = Thresholds(), data["alerts"]
    drifted = {f for r in data["runs"] for f, v in r["feature_psi"].items() if v > limits.psi_amber}
    assert {a["subject"] for a in alerts if a["kind"] == "feature_psi"} == drifted
    expected = data["expected_precision"]
    assert expected is not None
    level = level_of(1 - (6 / 16) / expected, limits.confirmation_drop_amber, limits.confirmation_drop_red)
    overall = [a for a in alerts if a["kind"] == "confirmation" and a["subject"] == "all"]
    assert [a["level"] for a in overall] == ([level] if level else [])
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert all(a["message_zh"] in summary for a in alerts) and str(outcome.report) in summary
    print(
        f"\nmonitoring: score PSI {[round(r['score_psi'], 4) for r in data['runs']]}, {len(alerts)} alerts "
        f"({sum(a['level'] == 'red' for a in alerts)} red), confirmation {6 / 16:.0%} vs expected {expected:.0%}"
    )


class _Sections(HTMLParser):
    """Which section ids hold an SVG chart; scripts and the alert rows."""

    def __init__(self) -> None:
        super().__init__()
        self.section: str | None = None
        self.charts: dict[str, int] = {}
        self.scripts = 0
        self.alert_rows = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section":
            self.section = found.get("id")
            self.charts.setdefault(self.section or "", 0)
        elif tag == "svg" and self.section:
            self.charts[self.section] += 1
        self.scripts += tag == "script"
        self.alert_rows += tag == "tr" and "alert" in (found.get("class") or "").split()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_report_renders_every_section(home: Monitored) -> None:
    from pipelines.monitoring import monitor_theme
    from risk_models.themes import load_theme

    outcome = monitor_theme(load_theme(THEME), RUNS[1], RUNS[2])
    assert outcome.runs == 2
    parser = _Sections()
    parser.feed(outcome.report.read_text(encoding="utf-8"))
    assert set(parser.charts) == set(SECTIONS)
    assert all(parser.charts[s] >= 1 for s in SECTIONS if s != "alerts"), parser.charts
    assert parser.charts["migration"] == 2 and parser.charts["confirmation"] == 2  # churn + matrix, rate + over time
    assert parser.scripts == 0 and parser.alert_rows == len(outcome.alerts)
    text = "".join(parser.text)
    for heading in ("预付卡消费预警", "警报", "评分分布稳定性", "特征分布稳定性", "等级迁移", "确认率", "按行业"):
        assert heading in text, heading
    assert "Tier sizes against the budget" in text and "2026-05-31 – 2026-06-30" in text


def test_version_without_training_distribution_is_measured_against_its_first_run(
    home: Monitored, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.monitoring as monitoring
    from risk_models.themes import load_theme

    monkeypatch.setattr(monitoring, "REFERENCE_ARTIFACT", "evaluation/not_registered.json")  # an older version
    outcome = monitoring.monitor_theme(load_theme(THEME), RUNS[0], RUNS[2])
    data = json.loads((outcome.folder / "monitoring.json").read_text(encoding="utf-8"))
    first = data["runs"][0]
    assert {r["reference"] for r in data["runs"]} == {"2026-04-30"}
    assert first["score_psi"] == 0.0 and set(first["feature_psi"].values()) == {0.0}  # a run against itself
    assert any("2026-04-30" in en for _, en in data["notes"])


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def test_monitor_flow_and_cli(home: Monitored, harness: None) -> None:
    from click.testing import CliRunner
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    from pipelines.cli import main
    from pipelines.monitor_flow import monitor

    state = monitor(THEME, RUNS[0], RUNS[2], return_state=True)
    assert state.is_completed(), state
    result = state.result()
    assert (result["from"], result["to"], result["runs"]) == ("2026-04-30", "2026-06-30", 3)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        )
    markdown = next(a for a in artifacts if a.key == "prepaid-cards-monitoring")
    assert markdown.type == "markdown" and "监测 Monitoring" in str(markdown.data)

    cli = CliRunner().invoke(main, ["monitor", THEME, "--from", "2026-05-01", "--to", "2026-06-30", "--fail-on-red"])
    red = [a for a in result["alerts"] if a["level"] == "red"]
    assert cli.exit_code == (2 if red else 0), cli.output
    report = home.home / "monitoring" / THEME / "2026-05-01_2026-06-30" / "report.html"
    assert f"report: {report}" in cli.output.replace("\n", "") and report.exists()
    assert "2 runs" in cli.output
    unknown = CliRunner().invoke(main, ["monitor", "no_such_theme"])
    assert unknown.exit_code == 2 and "no_such_theme" in unknown.output
