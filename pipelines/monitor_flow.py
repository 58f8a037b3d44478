"""Prefect flow `riskgen-monitor`: monitoring of one theme over a window of runs, with the alerts as an artifact."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from pipelines.monitoring import monitor_theme
from risk_models.themes import load_theme


@flow(name="riskgen-monitor", log_prints=True)
def monitor(theme: str, start: date | None = None, end: date | None = None) -> dict[str, Any]:
    """PSI against training, tier sizes against the budget, churn, confirmation by tier; alerts and the report."""
    logger = get_run_logger()
    outcome = monitor_theme(load_theme(theme), start, end)
    summary = (outcome.folder / "summary.md").read_text(encoding="utf-8")
    create_markdown_artifact(
        key=f"{outcome.theme.replace('_', '-')}-monitoring",
        markdown=summary,
        description=f"{outcome.theme} monitoring {outcome.start} – {outcome.end}",
    )
    red = sum(a.level == "red" for a in outcome.alerts)
    logger.info(
        "%s %s – %s: %d runs, %d alerts (%d red) → %s",
        outcome.theme,
        outcome.start,
        outcome.end,
        outcome.runs,
        len(outcome.alerts),
        red,
        outcome.report,
    )
    return {
        "theme": outcome.theme,
        "from": outcome.start.isoformat(),
        "to": outcome.end.isoformat(),
        "runs": outcome.runs,
        "report": str(outcome.report),
        "alerts": [a.to_dict() for a in outcome.alerts],
    }
