"""Charts of the monitoring report: pure functions from a `MonitoringResult` to inline SVG (risk_models.svg_charts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from features.reference import SECTOR_LABELS
from risk_models.monitoring import ALL, Migration, Thresholds, pooled
from risk_models.svg_charts import Series, bar_chart, blend, heatmap, line_chart, time_chart

if TYPE_CHECKING:  # the report module imports these charts; the result type is only an annotation here
    from risk_models.monitoring_report import MonitoringResult

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
