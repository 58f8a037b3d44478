"""Exact TreeSHAP contributions: M12 additivity, identical values across implementations, features by name, M10
determinism; plots write non-empty PNGs. Tiny LightGBM models trained on synthetic rows (numeric features with
missing values, a zero-as-missing variant, a categorical feature with unseen and null values, shallow and deep
trees)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import lightgbm as lgb
import matplotlib.pyplot as plt
import numpy as np
import polars as pl
import pytest

from risk_models.explain import METHODS, AdditivityError, ContributionMismatch, Contributions, contributions
from risk_models.explain_plots import (
    beeswarm,
    cjk_font,
    dependence,
    dependence_plots,
    family_importance,
    importance,
    plot_labels,
    waterfall,
)
from risk_models.reasons import feature_columns
from risk_models.scorer import Calibration, FeatureMismatch, Scorer
from risk_models.treeshap_fast import compile_model, shap_values

SECTORS = ("catering", "education_training", "fitness", "retail")
NUMERIC = ("complaints", "escrow_coverage", "age_days", "sales_trend", *(f"noise_{k}" for k in range(5)))
FEATURES = (*NUMERIC, "sector")


def synthetic_frame(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    complaints = rng.poisson(1.0, n).astype(float)
    coverage = np.where(rng.random(n) < 0.15, np.nan, rng.random(n))
    age = rng.integers(90, 4000, n).astype(float)
    trend = np.where(rng.random(n) < 0.3, 0.0, rng.normal(0, 1, n))
    sector = rng.choice(np.array([*SECTORS, "laundry"]), n)  # "laundry" is unseen in training when scored
    logit = -2 + 0.8 * complaints - 2 * np.nan_to_num(coverage, nan=0.2) + 0.5 * (sector == "fitness") + 0.3 * trend
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pl.DataFrame(
        {
            "entity_id": [f"E{seed}-{i:05d}" for i in range(n)],
            "as_of": [date(2026, 6, 30)] * n,
            "complaints": complaints,
            "escrow_coverage": coverage,
            "age_days": age,
            "sales_trend": trend,
            **{f"noise_{k}": rng.normal(size=n).round(k) for k in range(5)},
            "sector": pl.Series(sector.tolist(), dtype=pl.String).set(pl.Series([i % 97 == 0 for i in range(n)]), None),
            "label": label,
        }
    )


def train(frame: pl.DataFrame, leaves: int, depth: int, rounds: int, zero_as_missing: bool = False) -> Scorer:
    categories = {"sector": SECTORS}
    draft = Scorer("", FEATURES, categories, Calibration(1.0, 0.0))
    params = {
        "objective": "binary",
        "num_leaves": leaves,
        "max_depth": depth,
        "min_data_in_leaf": 5,
        "learning_rate": 0.1,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "zero_as_missing": zero_as_missing,
        "min_data_per_group": 5,
        "cat_smooth": 1.0,
        "num_threads": 1,
        "deterministic": True,
        "seed": 3,
        "verbosity": -1,
    }
    data = lgb.Dataset(
        draft.matrix(frame),
        frame["label"].to_numpy(),
        feature_name=list(FEATURES),
        categorical_feature=[FEATURES.index("sector")],
    )
    booster = lgb.train(params, data, num_boost_round=rounds)
    return Scorer(booster.model_to_string(), FEATURES, categories, Calibration(1.0, 0.0))


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return synthetic_frame(3000, seed=1)


@pytest.fixture(scope="module")
def scored() -> pl.DataFrame:
    return synthetic_frame(1500, seed=2)


MODELS = {
    "shallow": (15, 6, 40, False),
    "deep": (63, -1, 30, False),  # leaves testing > 6 distinct features: no table, evaluated at run time
    "zero_as_missing": (15, 6, 30, True),
}


@pytest.fixture(scope="module", params=list(MODELS))
def scorer(request: pytest.FixtureRequest, frame: pl.DataFrame) -> Scorer:
    return train(frame, *MODELS[request.param])


def test_the_models_exercise_categorical_missing_and_deep_splits(frame: pl.DataFrame) -> None:
    text = train(frame, *MODELS["deep"]).model_text
    assert "num_cat=0" in text and any(f"num_cat={k}" in text for k in range(1, 9))
    assert train(frame, *MODELS["zero_as_missing"]).model_text.count("decision_type=") > 0
    assert compile_model(text).table_start.min() == -1  # some leaves are too deep for a table


def test_contributions_add_up_to_the_raw_score_on_every_row(scorer: Scorer, scored: pl.DataFrame) -> None:
    result = contributions(scorer, scored, "fast")
    sums = result.values.sum(axis=1) + result.base_value
    assert result.max_additivity_error == pytest.approx(float(np.max(np.abs(sums - result.raw_scores))), abs=0)
    assert result.max_additivity_error <= 1e-9
    assert np.array_equal(result.raw_scores, scorer.raw_score(scored))
    assert result.entity_ids == tuple(scored["entity_id"].to_list()) and len(result.as_of) == scored.height


def test_lightgbm_shap_and_fast_give_identical_values(scorer: Scorer, scored: pl.DataFrame) -> None:
    results = {method: contributions(scorer, scored, method) for method in METHODS}
    reference = results["lightgbm"]
    for method in ("shap", "fast"):
        assert np.max(np.abs(results[method].values - reference.values)) <= 1e-9, method
        assert results[method].base_value == pytest.approx(reference.base_value, abs=1e-12)
        assert results[method].feature_names == FEATURES


def test_fast_without_tables_matches_lightgbm(scorer: Scorer, scored: pl.DataFrame) -> None:
    matrix = scorer.matrix(scored)
    reference = scorer.booster().predict(matrix, pred_contrib=True)[:, :-1]
    runtime_only = shap_values(compile_model(scorer.model_text, table_max_features=0), matrix)
    assert np.max(np.abs(runtime_only - reference)) <= 1e-9


def test_additivity_violation_raises(scorer: Scorer, scored: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    import risk_models.explain as explain

    real = explain._compute

    def off_by_a_little(*args: object) -> tuple[np.ndarray, float]:
        values, base = real(*args)  # type: ignore[arg-type]
        values = values.copy()
        values[7, 2] += 1e-5
        return values, base

    monkeypatch.setattr(explain, "_compute", off_by_a_little)
    with pytest.raises(AdditivityError, match="row 7"):
        contributions(scorer, scored, "lightgbm")
    assert contributions(scorer, scored, "lightgbm", tolerance=1e-4).max_additivity_error > 1e-6


def test_fast_values_are_cross_checked_against_lightgbm(
    scorer: Scorer, scored: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Contributions moved between two features keep every row's sum: only the value-by-value check notices."""
    import risk_models.treeshap_fast as fast

    real = fast.shap_values

    def swapped(*args: object) -> np.ndarray:
        values = real(*args).copy()  # type: ignore[arg-type]
        values[:, [0, 1]] = values[:, [1, 0]]
        return values

    monkeypatch.setattr(fast, "shap_values", swapped)
    with pytest.raises(ContributionMismatch):
        contributions(scorer, scored, "fast")
    assert contributions(scorer, scored, "fast", cross_check=0).max_additivity_error <= 1e-9


def test_features_are_selected_by_name_not_position(scorer: Scorer, scored: pl.DataFrame) -> None:
    shuffled = scored.select(list(reversed(scored.columns)))
    assert shuffled.columns != scored.columns
    for method in METHODS:
        original, reordered = contributions(scorer, scored, method), contributions(scorer, shuffled, method)
        assert reordered.feature_names == FEATURES
        assert np.array_equal(original.values, reordered.values), method
    # the strongest driver keeps its name: complaints push the riskiest rows up, noise barely matters
    result = contributions(scorer, shuffled, "fast")
    assert result.mean_abs()["complaints"] > result.mean_abs()["noise_0"]
    assert np.corrcoef(result.column("complaints"), shuffled["complaints"].to_numpy())[0, 1] > 0.5


def test_missing_feature_is_refused(scorer: Scorer, scored: pl.DataFrame) -> None:
    with pytest.raises(FeatureMismatch, match="escrow_coverage"):
        contributions(scorer, scored.drop("escrow_coverage"))


def test_recomputed_contributions_are_bitwise_equal(scorer: Scorer, scored: pl.DataFrame) -> None:
    for method in METHODS:
        first, second = contributions(scorer, scored, method), contributions(scorer, scored, method)
        assert first.values.tobytes() == second.values.tobytes(), method
        assert first.base_value == second.base_value
    one, two = (
        contributions(scorer, scored, "fast", num_threads=1),
        contributions(scorer, scored, "fast", num_threads=2),
    )
    assert one.values.tobytes() == two.values.tobytes()


def test_empty_frame_and_result_views(scorer: Scorer, scored: pl.DataFrame) -> None:
    empty = contributions(scorer, scored.head(0), "lightgbm")
    assert len(empty) == 0 and empty.values.shape == (0, len(FEATURES)) and empty.max_additivity_error == 0.0
    assert empty.base_value == pytest.approx(contributions(scorer, scored.head(3), "lightgbm").base_value)
    result = contributions(scorer, scored.head(5), "fast")
    wide = result.to_frame()
    assert wide.columns == ["entity_id", "as_of", "base_value", "raw_score", *FEATURES] and wide.height == 5
    assert not result.values.flags.writeable
    assert isinstance(result, Contributions)
    with pytest.raises(ValueError, match="unknown contribution method"):
        contributions(scorer, scored, "treelite")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------------------- plots
def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, path
    image = plt.imread(path)
    assert image.std() > 0.01, f"{path} is blank"


def test_plots_write_non_empty_pngs(frame: pl.DataFrame, scored: pl.DataFrame, tmp_path: Path) -> None:
    scorer = train(frame, *MODELS["shallow"])
    result = contributions(scorer, scored, "fast")
    tiers = ["red" if r < 20 else "orange" if r < 60 else None for r in np.argsort(np.argsort(-result.raw_scores))]
    tiered = scored.with_columns(pl.Series("tier", tiers, dtype=pl.String))
    labels = {"complaints": "近90天投诉数" if cjk_font() else "complaints in 90 days"}
    families = {f: ("complaints" if f in ("complaints", "sales_trend") else "profile") for f in FEATURES}
    paths = [
        waterfall(result, int(np.argmax(result.raw_scores)), tmp_path / "waterfall.png", labels, top=5),
        importance(result, tmp_path / "importance.png", labels),
        importance(result, tmp_path / "importance_by_tier.png", labels, tiers=tiers),
        family_importance(result, families, tmp_path / "families.png", tiers=tiers),
        beeswarm(result, scored, tmp_path / "beeswarm.png", labels, top=8),
        *dependence_plots(result, tiered, tmp_path / "dependence", labels, top=3, tier_column="tier"),
        dependence(result, tiered, "sector", tmp_path / "dependence_sector.png"),  # a categorical feature
    ]
    for path in paths:
        assert_png(path)
    assert len(list((tmp_path / "dependence").glob("dependence_*.png"))) == 3


def test_plot_labels_follow_the_installed_fonts() -> None:
    from risk_models.themes.prepaid_cards import SPEC

    column = feature_columns(SPEC)["refund_complaints__count_90d"]
    assert plot_labels(SPEC)["refund_complaints__count_90d"] == (column.label_zh if cjk_font() else column.label_en)
    assert plot_labels(SPEC, "en")["refund_complaints__count_90d"] == column.label_en
    assert plot_labels(SPEC, "zh")["refund_complaints__count_90d"] == column.label_zh
