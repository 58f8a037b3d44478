"""The Prefect flows under Prefect's test harness (a real temporary API server and database, no mocks).

`score_theme` publishes the run folder, pushes the list and leaves a markdown and a table artifact; `nightly` skips a
theme without a champion. The Prefect overhead is printed: the flow's wall time against the sum of the stage timings
in its manifest, and against the same run called directly (no Prefect) in another workspace.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipelines.runs import verify_run

AS_OF = date(2026, 6, 30)
STAGES = ("validate", "features", "score", "list", "explain", "outputs", "dossiers", "publish")


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def _artifacts_and_tasks(flow_run_id: Any) -> tuple[list[Any], list[str]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
    )

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return artifacts, sorted(t.name.rsplit("-", 1)[0] for t in tasks)


def test_score_theme_flow_publishes_and_reports(harness: None, nightly: Any, clean_run: Any, tmp_path: Path) -> None:
    # clean_run ran the pipeline once in this process already: the flow and the direct run below are both warm.
    from pipelines.flows import score_theme
    from pipelines.runs import read_manifest

    started = time.perf_counter()
    state = score_theme("prepaid_cards", AS_OF, data_dir=str(nightly.world), dossier_top=20, return_state=True)
    flow_seconds = time.perf_counter() - started
    assert state.is_completed(), state
    result = state.result()
    run_dir = Path(result["run_dir"])
    assert result["published"] and result["pushed"] == result["listed"] > 0
    assert run_dir == nightly.final(AS_OF) and verify_run(run_dir) == []
    for name in ("warnings.parquet", "warnings.xlsx", "summary.md", "scores.parquet", "contributions.parquet"):
        assert (run_dir / name).exists(), name
    assert nightly.review(AS_OF)["rows"] == result["listed"]

    artifacts, tasks = _artifacts_and_tasks(state.state_details.flow_run_id)
    by_key = {a.key: a for a in artifacts}
    assert by_key["prepaid-cards-summary"].type == "markdown"
    assert "预付卡消费预警" in str(by_key["prepaid-cards-summary"].data)
    assert by_key["prepaid-cards-top-warnings"].type == "table"
    assert set(tasks) >= {"features", "score", "list", "explain", "outputs", "dossiers", "push_published"}, tasks

    timings = read_manifest(run_dir)["timings"]
    stage_seconds = sum(timings[s] for s in STAGES if s in timings)
    # The same run without Prefect, champion load included, in a workspace of its own (same date, same inputs).
    from model_registry.registry import Registry
    from pipelines import settings

    direct_home = tmp_path / "direct"
    shutil.copytree(nightly.home / "mlflow", direct_home / "mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RISKGEN_HOME", str(direct_home))
        started = time.perf_counter()
        model = Registry.open(settings.registry_uri()).load("prepaid_cards", "champion")
        outcome = type(nightly)(direct_home, nightly.world, model).run(AS_OF)
        direct_seconds = time.perf_counter() - started
    assert outcome.published
    overhead, added = flow_seconds - stage_seconds, flow_seconds - direct_seconds
    print(
        f"\nPrefect: score_theme {flow_seconds:.2f} s wall, stages {stage_seconds:.2f} s (manifest timings) → "
        f"{overhead:.2f} s outside the stages ({overhead / flow_seconds:.0%} of the flow; includes the champion "
        f"load, publish and push); the same run without Prefect (champion load included) {direct_seconds:.2f} s "
        f"→ Prefect adds {added:.2f} s ({added / direct_seconds:+.0%}); "
        f"tasks {tasks}"
    )


def test_nightly_flow_skips_theme_without_champion(harness: None, nightly: Any) -> None:
    from pipelines.flows import nightly as nightly_flow

    results = nightly_flow(
        as_of=AS_OF, themes=["fire_lanes", "prepaid_cards"], data_dirs={"prepaid_cards": str(nightly.world)}
    )
    assert [r["theme"] for r in results] == ["prepaid_cards"]
    assert results[0]["published"]
    assert not (nightly.home / "runs" / "fire_lanes").exists()
    print(f"\nPrefect nightly: fire_lanes (no champion) skipped, prepaid_cards listed {results[0]['listed']}")
