"""Monitoring a theme's runs: tier sizes against the budget, list churn, confirmation by tier, and alerts.

Pure functions over plain values; `pipelines.monitoring` gathers them from run folders, the registry and the review
database, and `risk_models.monitoring_report` draws them. Alerts come from `Thresholds`: PSI (feature or score)
above 0.1 is amber and above 0.25 red (the usual reading of the index), a list or tier larger than the budget
allows, and a confirmation rate that fell against the earlier runs (or, without earlier decisions, against the
precision the model showed on its test period).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, Literal

from risk_models.spec import WarningPolicy

NONE = "none"  # not on the list
CONFIRMED, EXCLUDED = "confirmed", "excluded"  # research results (研判结论): review.dispositions.FINAL
ALL = "all"
Level = Literal["red", "amber"]
LEVELS: dict[str, int] = {"amber": 1, "red": 2}


@dataclass(frozen=True)
class Thresholds:
    """When a monitored figure raises an alert."""

    psi_amber: float = 0.1
    psi_red: float = 0.25
    over_budget_amber: float = 0.0  # listed (or a tier) above its allowance by more than this share
    over_budget_red: float = 0.2
    confirmation_drop_amber: float = 0.25  # relative fall of the confirmation rate against its baseline
    confirmation_drop_red: float = 0.5
    min_decisions: int = 10  # fewer research results than this: no confirmation alert (too noisy)
    recent_runs: int = 4  # the confirmation rate of the last runs is compared with the runs before


@dataclass(frozen=True)
class Alert:
    """One threshold crossed: what, where, how far, in both languages; `runs` counts the runs it was seen on."""

    level: Level
    kind: str  # feature_psi, score_psi, listed, tier_size, confirmation
    subject: str
    as_of: date
    value: float
    threshold: float
    message_zh: str
    message_en: str
    runs: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"as_of": self.as_of.isoformat()}


def level_of(value: float, amber: float, red: float) -> Level | None:
    """red at or above `red`, amber above `amber`, else None."""
    if value >= red:
        return "red"
    if value > amber:
        return "amber"
    return None


def psi_alerts(
    as_of: date,
    feature_psi: Mapping[str, float],
    score_psi: float | None,
    limits: Thresholds,
    labels: Mapping[str, tuple[str, str]] | None = None,
) -> list[Alert]:
    """PSI of the score and of each feature for one run against the training reference (labels: zh, en names)."""
    alerts = []
    if score_psi is not None:
        level = level_of(score_psi, limits.psi_amber, limits.psi_red)
        if level:
            threshold = limits.psi_red if level == "red" else limits.psi_amber
            zh = f"评分分布漂移：PSI {score_psi:.3f}（阈值 {threshold:g}）"
            en = f"score distribution drift: PSI {score_psi:.3f} (threshold {threshold:g})"
            alerts.append(Alert(level, "score_psi", "score", as_of, score_psi, threshold, zh, en))
    for name, value in sorted(feature_psi.items()):
        level = level_of(value, limits.psi_amber, limits.psi_red)
        if level:
            threshold = limits.psi_red if level == "red" else limits.psi_amber
            label_zh, label_en = (labels or {}).get(name, (name, name))
            zh = f"特征「{label_zh}」({name}) 分布漂移：PSI {value:.3f}（阈值 {threshold:g}）"
            en = f"feature '{label_en}' ({name}) drifted: PSI {value:.3f} (threshold {threshold:g})"
            alerts.append(Alert(level, "feature_psi", name, as_of, value, threshold, zh, en))
    return alerts


def tier_allowances(policy: WarningPolicy) -> dict[str, int]:
    """How many warnings of each tier the budget plans for: tier shares are cumulative ranks within the budget."""
    allowances, below = {}, 0.0
    for tier in policy.tiers:
        allowances[tier.name] = round((tier.share - below) * policy.budget_per_run)
        below = tier.share
    return allowances


def size_alerts(as_of: date, by_tier: Mapping[str, int], policy: WarningPolicy, limits: Thresholds) -> list[Alert]:
    """The whole list against the run budget, and each tier against its share (rule triggers and cooldown holds
    can add warnings beyond the budget: staff capacity is the same)."""
    checks = [("listed", ALL, sum(by_tier.values()), policy.budget_per_run)]
    checks += [("tier_size", t, by_tier.get(t, 0), n) for t, n in tier_allowances(policy).items() if n > 0]
    names = {t.name: t.label_zh for t in policy.tiers}
    alerts = []
    for kind, subject, size, allowed in checks:
        over = size / allowed - 1.0 if allowed else 0.0
        level = level_of(over, limits.over_budget_amber, limits.over_budget_red)
        if level:
            what_zh, what_en = (
                ("预警总数", "warnings listed") if subject == ALL else (f"{names[subject]}色预警", f"{subject} tier")
            )
            zh = f"{what_zh} {size} 超出预算 {allowed}（+{over:.0%}）"
            en = f"{what_en}: {size} over the budget of {allowed} (+{over:.0%})"
            alerts.append(Alert(level, kind, subject, as_of, float(size), float(allowed), zh, en))
    return alerts


@dataclass(frozen=True)
class Migration:
    """Tier migration between two consecutive lists: counts[i][j] entities moved from states[i] to states[j]."""

    states: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]

    def count(self, before: str, after: str) -> int:
        return self.counts[self.states.index(before)][self.states.index(after)]

    @property
    def new(self) -> int:
        """Listed now, not before."""
        return sum(self.counts[-1][:-1])

    @property
    def dropped(self) -> int:
        """Listed before, not now."""
        return sum(row[-1] for row in self.counts[:-1])

    @property
    def listed_before(self) -> int:
        return sum(sum(row) for row in self.counts[:-1])

    @property
    def listed_after(self) -> int:
        return sum(row[j] for row in self.counts for j in range(len(self.states) - 1))

    @property
    def churn(self) -> float:
        """Share of the union of both lists that entered or left: 0 for the same list, 1 for disjoint lists."""
        union = self.listed_before + self.new
        return (self.new + self.dropped) / union if union else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"states": list(self.states), "counts": [list(r) for r in self.counts], "churn": self.churn}


def migration_matrix(before: Mapping[str, str], after: Mapping[str, str], tiers: Sequence[str]) -> Migration:
    """Counts of entities by (tier before, tier after); an entity missing from a list is in state `none`.

    Args:
        before, after: entity id -> tier of the listed entities of two consecutive runs.
        tiers: tier names, most severe first.
    """
    states = (*tiers, NONE)
    index = {s: i for i, s in enumerate(states)}
    counts = [[0] * len(states) for _ in states]
    for entity in before.keys() | after.keys():
        counts[index[before.get(entity, NONE)]][index[after.get(entity, NONE)]] += 1
    return Migration(states, tuple(tuple(r) for r in counts))


@dataclass
class Outcomes:
    """Research results of pushed warnings: confirmed risks among the researched (confirmed + excluded)."""

    pushed: int = 0
    confirmed: int = 0
    excluded: int = 0

    @property
    def researched(self) -> int:
        return self.confirmed + self.excluded

    @property
    def rate(self) -> float | None:
        return self.confirmed / self.researched if self.researched else None

    def add(self, disposition: str | None) -> None:
        self.pushed += 1
        self.confirmed += disposition == CONFIRMED
        self.excluded += disposition == EXCLUDED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"researched": self.researched, "rate": self.rate}


def confirmation_by_tier(rows: Iterable[tuple[str, str | None]]) -> dict[str, Outcomes]:
    """(tier, disposition status or None) of pushed warnings → outcomes per tier and over all tiers (`all`)."""
    outcomes: dict[str, Outcomes] = {ALL: Outcomes()}
    for tier, disposition in rows:
        outcomes.setdefault(tier, Outcomes()).add(disposition)
        outcomes[ALL].add(disposition)
    return outcomes


@dataclass(frozen=True)
class RunOutcomes:
    """One run's pushed warnings and their research results, per tier."""

    as_of: date
    by_tier: dict[str, Outcomes] = field(default_factory=dict)


def pooled(runs: Sequence[RunOutcomes], tier: str) -> Outcomes:
    total = Outcomes()
    for run in runs:
        one = run.by_tier.get(tier)
        if one:
            total.pushed += one.pushed
            total.confirmed += one.confirmed
            total.excluded += one.excluded
    return total


def confirmation_alerts(
    runs: Sequence[RunOutcomes], tiers: Sequence[str], expected: float | None, limits: Thresholds
) -> list[Alert]:
    """The confirmation rate of the last `recent_runs` runs against the runs before (pooled, per tier and overall).

    Without enough earlier decisions the overall rate is compared with `expected` (the model's test precision at
    the budget). Too few recent decisions (`min_decisions`) raise nothing: a handful of results is noise.
    """
    ordered = sorted(runs, key=lambda r: r.as_of)
    if not ordered:
        return []
    recent, earlier = ordered[-limits.recent_runs :], ordered[: -limits.recent_runs]
    alerts = []
    for tier in (ALL, *tiers):
        now, before = pooled(recent, tier), pooled(earlier, tier)
        baseline = before.rate if before.researched >= limits.min_decisions else None
        if baseline is None and tier == ALL:
            baseline = expected
        if now.rate is None or now.researched < limits.min_decisions or not baseline:
            continue
        drop = 1.0 - now.rate / baseline
        level = level_of(drop, limits.confirmation_drop_amber, limits.confirmation_drop_red)
        if level:
            what = "全部" if tier == ALL else tier
            zh = f"{what} 预警确认率 {now.rate:.0%}（{now.confirmed}/{now.researched}），低于基准 {baseline:.0%}"
            en = f"{tier} confirmation rate {now.rate:.0%} ({now.confirmed}/{now.researched}), below {baseline:.0%}"
            alerts.append(Alert(level, "confirmation", tier, ordered[-1].as_of, now.rate, baseline, zh, en))
    return alerts


def summarise_alerts(alerts: Iterable[Alert]) -> list[Alert]:
    """One alert per (kind, subject): the latest run's, counting the runs it fired on; red first, largest first."""
    grouped: dict[tuple[str, str], list[Alert]] = {}
    for alert in alerts:
        grouped.setdefault((alert.kind, alert.subject), []).append(alert)
    summary = [replace(max(g, key=lambda a: a.as_of), runs=len({a.as_of for a in g})) for g in grouped.values()]
    return sorted(summary, key=lambda a: (-LEVELS[a.level], a.kind, -a.value, a.subject))
