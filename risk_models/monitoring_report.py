"""The monitoring report of one theme over a window of runs: plain data in, one self-contained HTML page out.

Chinese first with English alongside; no JavaScript and no external resources (inline CSS and the inline SVG charts
of `risk_models.svg_charts`). Rendered by an autoescaping, strict jinja2 environment: feature names, sectors and
alert texts are text, only the escaped SVG strings arrive as Markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from markupsafe import Markup

from risk_models.html_templates import html_environment
from risk_models.monitoring import ALL, Alert, Migration, RunOutcomes, Thresholds, pooled
from risk_models.monitoring_charts import (
    TIER_NAMES,
    churn_chart,
    confirmation_chart,
    confirmation_over_time,
    feature_psi_heatmap,
    migration_svg,
    score_psi_chart,
    sector_chart,
    tier_size_chart,
)

TEMPLATE = "monitoring.html.j2"


@dataclass(frozen=True)
class RunFigures:
    """What one published run contributes to monitoring."""

    as_of: date
    model_version: str
    cohort: int
    by_tier: dict[str, int]
    feature_psi: dict[str, float]
    score_psi: float | None
    by_group: dict[str, int]
    migration: Migration | None = None  # against the run before (None for the first run ever)
    reference: str = "training"  # what PSI compares with: the version's training rows, or a baseline run

    @property
    def listed(self) -> int:
        return sum(self.by_tier.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "model_version": self.model_version,
            "cohort": self.cohort,
            "listed": self.listed,
            "by_tier": self.by_tier,
            "score_psi": self.score_psi,
            "feature_psi": self.feature_psi,
            "by_group": self.by_group,
            "migration": self.migration.to_dict() if self.migration else None,
            "reference": self.reference,
        }


@dataclass(frozen=True)
class MonitoringResult:
    """Everything the report shows for one theme and window."""

    theme: str
    title: tuple[str, str]
    start: date
    end: date
    budget: int
    tiers: tuple[str, ...]
    allowances: dict[str, int]
    runs: list[RunFigures]
    outcomes: list[RunOutcomes]
    alerts: list[Alert]
    thresholds: Thresholds
    expected_precision: float | None = None
    feature_labels: dict[str, tuple[str, str]] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "theme": self.theme,
            "title": list(self.title),
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "budget": self.budget,
            "tier_allowances": self.allowances,
            "thresholds": self.thresholds.__dict__,
            "expected_precision": self.expected_precision,
            "alerts": [a.to_dict() for a in self.alerts],
            "runs": [r.to_dict() for r in self.runs],
            "confirmation": {
                "by_run": [
                    {"as_of": o.as_of.isoformat(), "by_tier": {t: v.to_dict() for t, v in o.by_tier.items()}}
                    for o in self.outcomes
                ],
                "pooled": {t: pooled(self.outcomes, t).to_dict() for t in (ALL, *self.tiers)},
            },
            "notes": [list(n) for n in self.notes],
        }


def render_report(result: MonitoringResult, generated_at: str) -> str:
    """The whole HTML page."""
    heat, shown = feature_psi_heatmap(result)
    latest = result.runs[-1] if result.runs else None
    psi_rows = [
        {
            "feature": f,
            "label": result.feature_labels.get(f, (f, f)),
            "latest": latest.feature_psi.get(f) if latest else None,
            "worst": max((r.feature_psi.get(f, 0.0) for r in result.runs), default=0.0),
        }
        for f in shown
    ]
    migration = next((r for r in reversed(result.runs) if r.migration), None)
    charts = {
        "score_psi": score_psi_chart(result),
        "feature_psi": heat,
        "tier_sizes": tier_size_chart(result),
        "churn": churn_chart(result),
        "migration": migration_svg(migration.migration) if migration and migration.migration else "",
        "confirmation": confirmation_chart(result),
        "confirmation_time": confirmation_over_time(result),
        "sectors": sector_chart(result),
    }
    # svg_charts escapes every text it writes, so its output is safe markup
    safe = {k: Markup(v) for k, v in charts.items()}
    confirmation = [(t, pooled(result.outcomes, t)) for t in (*result.tiers, ALL)]
    return (
        html_environment()
        .get_template(TEMPLATE)
        .render(
            r=result,
            charts=safe,
            psi_rows=psi_rows,
            migration_run=migration,
            confirmation=confirmation,
            tier_names=TIER_NAMES,
            level_of=_level_name,
            generated_at=generated_at,
        )
    )


def _level_name(level: str) -> tuple[str, str]:
    return {"red": ("红色警报", "red"), "amber": ("关注", "amber")}.get(level, (level, level))


def alerts_markdown(result: MonitoringResult, report_path: str) -> str:
    """The monitoring summary: alerts first (Chinese, English), then the report's path."""
    lines = [
        f"# 监测 Monitoring — {result.title[0]} / {result.title[1]}: {result.start} … {result.end}",
        "",
        f"- 运行 runs: {len(result.runs)}; 预算 budget {result.budget}; report: {report_path}",
        "",
    ]
    if not result.alerts:
        lines.append("无警报 — no alerts.")
    for a in result.alerts:
        seen = f" ({a.runs} runs)" if a.runs > 1 else ""
        lines.append(f"- **{a.level.upper()}** {a.as_of} {a.message_zh} — {a.message_en}{seen}")
    for zh, en in result.notes:
        lines.append(f"- 说明 note: {zh} — {en}")
    return "\n".join(lines) + "\n"
