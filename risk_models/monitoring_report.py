"""The monitoring report of one theme over a window of runs: plain data in, one self-contained HTML page out.

Chinese first with English alongside; no JavaScript and no external resources (inline CSS and the inline SVG charts
of `risk_models.svg_charts`). Rendered by an autoescaping, strict jinja2 environment: feature names, sectors and
alert texts are text, only the escaped SVG strings arrive as Markup.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from features.reference import SECTOR_LABELS
from risk_models.drift import SCORE
from risk_models.monitoring import ALL, Alert, Migration, RunOutcomes, Thresholds, pooled
from risk_models.svg_charts import Series, bar_chart, blend, heatmap, line_chart, time_chart

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = "monitoring.html.j2"
WIDTH = 960
TOP_FEATURES = 25  # rows of the PSI heatmap (the features that drifted most)
TIER_COLOURS = {"red": "#c62828", "orange": "#e8710a", "yellow": "#f2b705", ALL: "#1f4e79"}
TIER_NAMES = {
    "red": ("红色", "red"),
    "orange": ("橙色", "orange"),
    "yellow": ("黄色", "yellow"),
    "none": ("未列入", "not listed"),
}
PALETTE = ("#1f4e79", "#c0392b", "#e8710a", "#2e7d6b", "#7b5ea7", "#b8860b")
MAX_SECTORS = len(PALETTE)  # more lines than this are unreadable; the rest is summed
BUDGET_COLOUR, AMBER, RED, OK = "#1f2933", "#e8a10a", "#c62828", "#2e7d6b"


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


@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml", "j2"), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def psi_colour(limits: Thresholds) -> Callable[[float], str]:
    """Green below the amber line, amber up to the red line, red above; deeper as the index grows."""

    def colour(value: float) -> str:
        if value >= limits.psi_red:
            return blend(RED, 0.55 + 0.45 * min(value / (4 * limits.psi_red), 1.0))
        if value > limits.psi_amber:
            return blend(AMBER, 0.45 + 0.4 * (value - limits.psi_amber) / (limits.psi_red - limits.psi_amber))
        return blend(OK, 0.08 + 0.3 * value / limits.psi_amber)

    return colour


def _dates(result: MonitoringResult) -> list[str]:
    return [r.as_of.isoformat() for r in result.runs]


def _flat(value: float, n: int) -> list[float | None]:
    return [value] * n


def score_psi_chart(result: MonitoringResult) -> str:
    n, limits = len(result.runs), result.thresholds
    series = [
        Series("评分 PSI score", [r.score_psi for r in result.runs], "#1f4e79", "area"),
        Series(f"关注 amber {limits.psi_amber:g}", _flat(limits.psi_amber, n), AMBER),
        Series(f"警戒 red {limits.psi_red:g}", _flat(limits.psi_red, n), RED),
    ]
    return line_chart(_dates(result), series, title="评分 PSI / score PSI", fmt=lambda v: f"{v:.2f}", width=WIDTH)


def feature_psi_heatmap(result: MonitoringResult) -> tuple[str, list[str]]:
    """Features (most drifted first) × runs; returns the SVG and the features shown."""
    names = sorted({f for r in result.runs for f in r.feature_psi})
    worst = {f: max((r.feature_psi.get(f, 0.0) for r in result.runs), default=0.0) for f in names}
    shown = sorted(names, key=lambda f: (-worst[f], f))[:TOP_FEATURES]
    labels = [f"{result.feature_labels.get(f, (f, f))[0]} · {f}" for f in shown]
    values = [[r.feature_psi.get(f) for r in result.runs] for f in shown]
    svg = heatmap(
        labels,
        _dates(result),
        values,
        title="特征 PSI / feature PSI",
        colour=psi_colour(result.thresholds),
        width=WIDTH,
        label_width=330,
        label_chars=50,
        empty_text="无数据 no data",
    )
    return svg, shown


def tier_size_chart(result: MonitoringResult) -> str:
    series = [
        Series(f"{TIER_NAMES.get(t, (t, t))[0]} {t}", [float(r.by_tier.get(t, 0)) for r in result.runs], c, "bar")
        for t, c in ((t, TIER_COLOURS.get(t, "#8a94a0")) for t in result.tiers)
    ]
    series += [
        Series("预警总数 listed", [float(r.listed) for r in result.runs], "#5b6b7c"),
        Series(f"预算 budget {result.budget}", _flat(float(result.budget), len(result.runs)), BUDGET_COLOUR),
    ]
    return time_chart(_dates(result), series, title="各等级预警数与预算 / tier sizes vs budget", width=WIDTH)


def churn_chart(result: MonitoringResult) -> str:
    runs = [r for r in result.runs if r.migration]
    series = [
        Series("新进 entered", [float(r.migration.new) for r in runs if r.migration], "#c0392b", "bar"),
        Series("移出 left", [float(r.migration.dropped) for r in runs if r.migration], "#2e7d6b", "bar"),
    ]
    labels = [r.as_of.isoformat() for r in runs]
    return bar_chart(labels, series, title="名单进出 / list churn", width=WIDTH, empty_text="无数据 no data")


def migration_svg(migration: Migration) -> str:
    names = [f"{TIER_NAMES.get(s, (s, s))[0]} {s}" for s in migration.states]
    high = max((v for row in migration.counts for v in row), default=1) or 1
    return heatmap(
        [f"上期 before: {n}" for n in names],
        [f"本期 {n}" for n in names],
        [[float(v) for v in row] for row in migration.counts],
        title="等级迁移矩阵 / tier migration",
        colour=lambda v: blend("#1f4e79", 0.1 + 0.8 * v / high) if v else "#ffffff",
        fmt=lambda v: f"{v:.0f}",
        width=WIDTH,
        row_height=30,
        label_width=220,
    )


def confirmation_chart(result: MonitoringResult) -> str:
    tiers = [*result.tiers, ALL]
    rates = [pooled(result.outcomes, t).rate for t in tiers]
    labels = [f"{TIER_NAMES.get(t, ('全部', 'all'))[0]} {t}" for t in tiers]
    series = [Series("确认率 confirmation rate", rates, "#1f4e79", "bar")]
    if result.expected_precision is not None:
        series.append(Series("模型测试精度 expected", _flat(result.expected_precision, len(tiers)), BUDGET_COLOUR))
    return time_chart(
        labels,
        series,
        title="各等级确认率 / confirmation by tier",
        fmt=lambda v: f"{v:.0%}",
        width=WIDTH,
        empty_text="暂无研判结论 no research results yet",
    )


def confirmation_over_time(result: MonitoringResult) -> str:
    labels = [o.as_of.isoformat() for o in result.outcomes]
    series = [
        Series(t, [o.by_tier[t].rate if t in o.by_tier else None for o in result.outcomes], TIER_COLOURS.get(t, "#888"))
        for t in (*result.tiers, ALL)
    ]
    return line_chart(
        labels,
        series,
        title="确认率随时间 / confirmation over runs",
        fmt=lambda v: f"{v:.0%}",
        width=WIDTH,
        empty_text="暂无研判结论 no research results yet",
    )


def sector_chart(result: MonitoringResult) -> str:
    """Listed warnings per sector and run: the largest sectors, the rest summed as "other"."""
    totals: dict[str, int] = {}
    for r in result.runs:
        for g, n in r.by_group.items():
            totals[g] = totals.get(g, 0) + n
    top = sorted(totals, key=lambda g: (-totals[g], g))[:MAX_SECTORS]
    rest = [float(sum(n for g, n in r.by_group.items() if g not in top)) for r in result.runs]
    series = [
        Series(SECTOR_LABELS.get(g, g or "—"), [float(r.by_group.get(g, 0)) for r in result.runs], c)
        for g, c in zip(top, PALETTE, strict=False)
    ]
    if any(rest):
        series.append(Series("其他 other", rest, "#8a94a0"))
    draw = bar_chart if len(result.runs) <= 3 else line_chart
    return draw(_dates(result), series, title="按行业预警数量 / warnings by sector", width=WIDTH, empty_text="无数据")


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
        _environment()
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
            score=SCORE,
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
