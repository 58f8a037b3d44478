"""Baselines trained and reported beside the model on the same split: a rule and a logistic WoE scorecard."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression

from risk_models.labels import LABEL

WOE_BINS = 8
MIN_INFORMATION_VALUE = 0.02  # below this a feature adds noise to a scorecard


@dataclass(frozen=True)
class RuleBaseline:
    """Rank by one feature (e.g. refund complaints in 90 days): what a rule 'feature >= k' orders by."""

    feature: str

    def score(self, frame: pl.DataFrame) -> np.ndarray:
        return frame[self.feature].cast(pl.Float64).fill_null(0.0).to_numpy()


@dataclass(frozen=True)
class WoeFeature:
    """Quantile bin edges of a feature and the weight of evidence of each bin (last entry: missing values)."""

    name: str
    edges: tuple[float, ...]
    woe: tuple[float, ...]
    information_value: float

    def transform(self, values: np.ndarray) -> np.ndarray:
        bins = np.searchsorted(np.asarray(self.edges), values, side="right")
        bins = np.where(np.isnan(values), len(self.woe) - 1, bins)
        return np.asarray(self.woe)[bins]


@dataclass(frozen=True)
class WoeScorecard:
    """Logistic regression on weight-of-evidence-binned numeric features with enough information value."""

    features: tuple[WoeFeature, ...]
    coefficients: tuple[float, ...]
    intercept: float

    def score(self, frame: pl.DataFrame) -> np.ndarray:
        if not self.features:
            return np.zeros(frame.height)
        columns = [f.transform(_numeric(frame, f.name)) for f in self.features]
        return np.column_stack(columns) @ np.asarray(self.coefficients) + self.intercept


def _numeric(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy()


def fit_woe_feature(name: str, values: np.ndarray, labels: np.ndarray) -> WoeFeature:
    """Quantile bins (ties merged), smoothed WoE per bin and for missing values."""
    present = values[~np.isnan(values)]
    quantiles = np.quantile(present, np.linspace(0, 1, WOE_BINS + 1)[1:-1]) if present.size else np.array([])
    edges = np.unique(quantiles)
    bins = np.searchsorted(edges, values, side="right")
    bins = np.where(np.isnan(values), edges.size + 1, bins)
    positives, negatives = labels.sum(), labels.size - labels.sum()
    woe, information = [], 0.0
    for b in range(edges.size + 2):
        pos = labels[bins == b].sum() + 0.5  # +0.5 smoothing keeps empty bins finite
        neg = (bins == b).sum() - labels[bins == b].sum() + 0.5
        share_pos, share_neg = pos / (positives + 1), neg / (negatives + 1)
        woe.append(float(np.log(share_pos / share_neg)))
        information += (share_pos - share_neg) * woe[-1]
    return WoeFeature(name, tuple(float(e) for e in edges), tuple(woe), float(information))


def fit_woe_scorecard(train: pl.DataFrame, features: list[str]) -> WoeScorecard:
    labels = train[LABEL].to_numpy().astype(float)
    binned = [fit_woe_feature(name, _numeric(train, name), labels) for name in features]
    kept = tuple(f for f in binned if f.information_value >= MIN_INFORMATION_VALUE)
    if not kept:
        return WoeScorecard((), (), 0.0)
    matrix = np.column_stack([f.transform(_numeric(train, f.name)) for f in kept])
    model = LogisticRegression(C=0.1, max_iter=2000).fit(matrix, labels)
    return WoeScorecard(kept, tuple(float(c) for c in model.coef_[0]), float(model.intercept_[0]))
