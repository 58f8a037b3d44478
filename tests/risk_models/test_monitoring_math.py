"""Monitoring arithmetic against hand-computed values: PSI, bins, tier migration, confirmation rates and alerts."""

from __future__ import annotations

import math
from datetime import date
from html.parser import HTMLParser

import numpy as np
import polars as pl
import pytest

from risk_models.drift import (
    EPSILON,
    Binning,
    DriftReference,
    build_reference,
    distribution,
    fit_binning,
    population_psi,
    psi,
)
from risk_models.monitoring import (
    Alert,
    RunOutcomes,
    Thresholds,
    confirmation_alerts,
    confirmation_by_tier,
    migration_matrix,
    psi_alerts,
    size_alerts,
    summarise_alerts,
    tier_allowances,
)
from risk_models.spec import WarningPolicy
from risk_models.svg_charts import heatmap

TIERS = ("red", "orange", "yellow")
D1, D2, D3 = date(2026, 4, 30), date(2026, 5, 31), date(2026, 6, 30)


def test_psi_of_identical_distributions_is_zero() -> None:
    shares = [0.1, 0.2, 0.3, 0.4, 0.0]
    assert psi(shares, shares) == 0.0
    values = pl.Series("x", np.random.default_rng(1).normal(size=5000))
    binning = fit_binning(values, "numeric")
    same = distribution(values, binning)
    assert psi(same.shares, same.shares) == 0.0


def test_psi_two_bins_by_hand() -> None:
    # (0.25 − 0.5)·ln(0.25/0.5) + (0.75 − 0.5)·ln(0.75/0.5) = 0.25·ln 2 + 0.25·ln 1.5
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5), abs=1e-12)
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.274653, abs=1e-6)
    with pytest.raises(ValueError, match="same bins"):
        psi([0.5, 0.5], [1.0])


def test_deciles_and_psi_of_a_shifted_distribution() -> None:
    training = pl.Series("x", list(range(100)))
    binning = fit_binning(training, "numeric")
    assert binning.edges == (9, 19, 29, 39, 49, 59, 69, 79, 89)  # deciles of 0..99 ("lower" quantiles)
    reference = distribution(training, binning)
    assert reference.shares == pytest.approx([0.1] * 10 + [0.0])  # ten equal bins, no missing
    shifted = distribution(pl.Series("x", list(range(50, 150))), binning)
    # 50..59 → (49, 59], …, 80..89 → (79, 89], 90..149 → "> 89": five empty bins, four of 0.1, one of 0.6
    assert shifted.shares == pytest.approx([0.0] * 5 + [0.1] * 4 + [0.6, 0.0])
    by_hand = 5 * (EPSILON - 0.1) * math.log(EPSILON / 0.1) + 0.5 * math.log(6)
    assert psi(reference.shares, shifted.shares) == pytest.approx(by_hand, rel=1e-12)
    assert by_hand == pytest.approx(4.346303, abs=1e-6)


def test_missing_values_and_unseen_categories_have_bins_of_their_own() -> None:
    numeric = Binning("numeric", edges=(0.0, 1.0))
    counts = numeric.counts(pl.Series("x", [-5.0, 0.0, 0.5, 1.0, 7.0, None, float("nan")]))
    assert counts.tolist() == [2, 2, 1, 2]  # (−inf, 0], (0, 1], (1, +inf), missing (null and NaN)
    assert numeric.labels == ["≤ 0", "(0, 1]", "> 1", "missing"]
    flags = fit_binning(pl.Series("f", [True, False, False, True]), "numeric")
    assert flags.edges == (0.0, 1.0)
    sectors = fit_binning(pl.Series("s", ["fitness", "beauty", "fitness", None]), "categorical")
    assert sectors.categories == ("beauty", "fitness")
    shares = distribution(pl.Series("s", ["fitness", "catering", None, None]), sectors).shares
    assert shares == pytest.approx([0.0, 0.25, 0.25, 0.5])  # beauty, fitness, other (unseen), missing
    assert sectors.labels == ["beauty", "fitness", "other", "missing"]


def test_reference_round_trip_and_population_psi() -> None:
    rng = np.random.default_rng(3)
    frame = pl.DataFrame({"a": rng.gamma(2.0, size=2000), "s": rng.choice(["x", "y", "z"], size=2000)})
    scores = pl.Series("p", rng.beta(1, 9, size=2000))
    reference = build_reference(frame, ["a", "s"], ["s"], scores, source={"split": "train"})
    again = DriftReference.from_dict(reference.to_dict())
    assert again.features["a"].binning == reference.features["a"].binning
    assert again.source == {"split": "train"}
    assert population_psi(again, frame, scores) == pytest.approx({"a": 0.0, "s": 0.0, "score": 0.0}, abs=1e-6)
    moved = population_psi(again, frame.with_columns(pl.col("a") * 3), scores)
    assert moved["a"] > 0.25 and moved["s"] == pytest.approx(0.0, abs=1e-6)


def test_migration_matrix_of_two_constructed_lists() -> None:
    before = {"a": "red", "b": "orange", "c": "yellow", "d": "yellow", "e": "red"}
    after = {"a": "red", "b": "red", "c": "orange", "f": "yellow", "g": "red"}
    m = migration_matrix(before, after, TIERS)
    assert m.states == ("red", "orange", "yellow", "none")
    assert [list(r) for r in m.counts] == [
        [1, 0, 0, 1],  # a stays red, e leaves
        [1, 0, 0, 0],  # b escalates to red
        [0, 1, 0, 1],  # c escalates to orange, d leaves
        [1, 0, 1, 0],  # g enters red, f enters yellow
    ]
    assert (m.new, m.dropped, m.listed_before, m.listed_after) == (2, 2, 5, 5)
    assert m.churn == pytest.approx(4 / 7)  # 4 moves in or out over the 7 entities on either list
    assert m.count("orange", "red") == 1
    assert migration_matrix(before, before, TIERS).churn == 0.0


def test_confirmation_rate_by_tier() -> None:
    rows = [("red", "confirmed")] * 3 + [("red", "excluded"), ("red", "pending"), ("orange", "checking")]
    rows += [("orange", "excluded")] * 2 + [("yellow", "confirmed")]
    outcomes = confirmation_by_tier(rows)
    assert (outcomes["red"].pushed, outcomes["red"].researched, outcomes["red"].rate) == (5, 4, 0.75)
    assert (outcomes["orange"].pushed, outcomes["orange"].researched, outcomes["orange"].rate) == (3, 2, 0.0)
    assert outcomes["yellow"].rate == 1.0
    assert outcomes["all"].rate == pytest.approx(4 / 7)
    assert confirmation_by_tier([("red", "pending")])["red"].rate is None


def _run(as_of: date, confirmed: int, excluded: int) -> RunOutcomes:
    return RunOutcomes(
        as_of, confirmation_by_tier([("red", "confirmed")] * confirmed + [("red", "excluded")] * excluded)
    )


def test_confirmation_drop_alerts() -> None:
    limits = Thresholds(recent_runs=1, min_decisions=10)
    earlier = [_run(D1, 8, 2), _run(D2, 6, 4)]  # pooled 14 / 20 = 70 %
    alerts = confirmation_alerts([*earlier, _run(D3, 3, 9)], TIERS, None, limits)  # 25 %: fell by 64 %
    assert {(a.subject, a.level) for a in alerts} == {("all", "red"), ("red", "red")}
    alert = next(a for a in alerts if a.subject == "red")
    assert (alert.value, alert.threshold, alert.as_of) == (0.25, 0.7, D3)
    assert confirmation_alerts([*earlier, _run(D3, 5, 7)], TIERS, None, limits)[0].level == "amber"  # 42 %: −40 %
    assert confirmation_alerts([*earlier, _run(D3, 2, 3)], TIERS, None, limits) == []  # 5 decisions: too few
    # no earlier decisions: the overall rate is held against the model's test precision
    expected = confirmation_alerts([_run(D3, 2, 10)], TIERS, 0.5, limits)
    assert [(a.subject, a.level, a.threshold) for a in expected] == [("all", "red", 0.5)]


def test_budget_allowances_and_size_alerts() -> None:
    policy = WarningPolicy(budget_per_run=100)
    assert tier_allowances(policy) == {"red": 20, "orange": 30, "yellow": 50}
    assert size_alerts(D3, {"red": 20, "orange": 30, "yellow": 50}, policy, Thresholds()) == []
    alerts = size_alerts(D3, {"red": 30, "orange": 30, "yellow": 55}, policy, Thresholds())
    found = {(a.kind, a.subject): (a.level, a.value, a.threshold) for a in alerts}
    assert found == {
        ("listed", "all"): ("amber", 115.0, 100.0),  # +15 %
        ("tier_size", "red"): ("red", 30.0, 20.0),  # +50 %
        ("tier_size", "yellow"): ("amber", 55.0, 50.0),  # +10 %
    }
    assert "红色预警 30 超出预算 20" in next(a.message_zh for a in alerts if a.subject == "red")


def test_psi_alert_levels_and_summary() -> None:
    labels = {"f1": ("投诉数", "complaints")}
    first = psi_alerts(D2, {"f1": 0.3, "f2": 0.05, "f3": 0.1}, 0.12, Thresholds(), labels)
    assert {(a.kind, a.subject, a.level) for a in first} == {
        ("feature_psi", "f1", "red"),
        ("score_psi", "score", "amber"),
    }
    assert "投诉数" in next(a.message_zh for a in first if a.subject == "f1")  # 0.1 itself is not above 0.1
    later = psi_alerts(D3, {"f1": 0.2}, 0.01, Thresholds(), labels)
    summary = summarise_alerts([*first, *later])
    assert [(a.subject, a.level, a.as_of, a.runs) for a in summary] == [
        ("f1", "amber", D3, 2),  # the latest run's reading, seen on two runs
        ("score", "amber", D2, 1),
    ]
    assert isinstance(summary[0], Alert) and summary[0].to_dict()["as_of"] == "2026-06-30"


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.rects = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.rects += tag == "rect"

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def test_heatmap_cells_and_escaping() -> None:
    svg = heatmap(["<b>x</b>", "y"], ["d1", "d2"], [[0.1, None], [0.3, 0.0]], title="t", colour=lambda v: "#c62828")
    parser = _Texts()
    parser.feed(svg)
    assert parser.rects == 4 and "<b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg
    assert {"0.10", "—", "0.30", "0.00"} <= set(parser.texts)
