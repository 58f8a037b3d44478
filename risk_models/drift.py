"""Population stability: bins fixed on training data, proportions per bin, and the PSI of a new population.

A model version carries a `DriftReference`: for every feature and for the score, the bins (deciles of the training
rows for numbers, the training categories for text) and the share of training rows in each. A nightly population is
counted into the same bins and compared with

    PSI = Σ (actual_i − expected_i) · ln(actual_i / expected_i)

over the bins, shares floored at `EPSILON` so an empty bin counts as a large (finite) shift. Missing values have a
bin of their own: a feed that stops delivering a column shows up as drift, not as nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

DEFAULT_BINS = 10  # deciles
MAX_CATEGORIES = 30  # the most frequent training categories get a bin each; the rest share "other"
EPSILON = 1e-4
MISSING = "missing"
OTHER = "other"
SCORE = "score"

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class Binning:
    """How one variable is binned: numeric cut points (bins `(e_{i-1}, e_i]`) or category values; plus missing.

    Numeric bins: `(-inf, e_1], (e_1, e_2], ..., (e_k, +inf)`, then missing (null or NaN). Categorical bins: one per
    category, then `other` (values unseen in training), then missing.
    """

    kind: Kind
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def labels(self) -> list[str]:
        if self.kind == "categorical":
            return [*self.categories, OTHER, MISSING]
        if not self.edges:
            return ["all", MISSING]
        inner = [f"({_num(a)}, {_num(b)}]" for a, b in zip(self.edges, self.edges[1:], strict=False)]
        return [f"≤ {_num(self.edges[0])}", *inner, f"> {_num(self.edges[-1])}", MISSING]

    def counts(self, values: pl.Series) -> np.ndarray:
        """Number of values in each bin (same order as `labels`)."""
        if self.kind == "categorical":
            text = values.cast(pl.String)
            index = {c: i for i, c in enumerate(self.categories)}
            counts = np.zeros(len(self.categories) + 2, dtype=np.int64)
            for value, n in text.value_counts().iter_rows():
                slot = len(self.categories) + 1 if value is None else index.get(value, len(self.categories))
                counts[slot] += n
            return counts
        numbers = _floats(values)
        missing = np.isnan(numbers)
        slots = np.searchsorted(np.asarray(self.edges, dtype=np.float64), numbers[~missing], side="left")
        present = np.bincount(slots, minlength=len(self.edges) + 1)
        return np.append(present, int(missing.sum())).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "edges": list(self.edges), "categories": list(self.categories)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Binning:
        kind: Kind = "categorical" if data["kind"] == "categorical" else "numeric"
        return cls(kind, tuple(float(e) for e in data.get("edges", ())), tuple(data.get("categories", ())))


@dataclass(frozen=True)
class Distribution:
    """The share of a population in each bin of a binning, and how many rows it counted."""

    binning: Binning
    shares: tuple[float, ...]
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return self.binning.to_dict() | {"shares": [round(s, 8) for s in self.shares], "rows": self.rows}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Distribution:
        return cls(Binning.from_dict(data), tuple(float(s) for s in data["shares"]), int(data["rows"]))


def _num(value: float) -> str:
    return f"{value:.4g}"


def _floats(values: pl.Series) -> np.ndarray:
    """Values as float64 with null → NaN (booleans become 0/1)."""
    return np.asarray(values.cast(pl.Float64).fill_null(float("nan")).to_numpy(), dtype=np.float64)


def fit_binning(values: pl.Series, kind: Kind, bins: int = DEFAULT_BINS) -> Binning:
    """Bins fitted on training values: unique quantile cut points (deciles by default), or the top categories."""
    if kind == "categorical":
        counts = values.cast(pl.String).drop_nulls().value_counts(sort=True)
        ordered = sorted(counts.iter_rows(), key=lambda r: (-r[1], r[0]))[:MAX_CATEGORIES]
        return Binning("categorical", categories=tuple(sorted(str(v) for v, _ in ordered)))
    numbers = _floats(values)
    finite = numbers[np.isfinite(numbers)]
    if finite.size == 0:
        return Binning("numeric")
    cuts = np.quantile(finite, np.arange(1, bins) / bins, method="lower")
    edges = tuple(float(e) for e in np.unique(cuts))
    return Binning("numeric", edges=edges)


def distribution(values: pl.Series, binning: Binning) -> Distribution:
    """The shares of `values` in the bins of `binning`."""
    counts = binning.counts(values)
    total = int(counts.sum())
    shares = tuple(float(c) / total for c in counts) if total else tuple(0.0 for _ in counts)
    return Distribution(binning, shares, total)


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = EPSILON) -> float:
    """Population stability index of `actual` shares against `expected` shares over the same bins.

    Shares are floored at `epsilon` (an empty bin would otherwise make the index infinite); 0 means identical.
    """
    if len(expected) != len(actual):
        raise ValueError(f"PSI needs the same bins: {len(expected)} expected shares, {len(actual)} actual")
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, epsilon), max(a, epsilon)
        total += (a - e) * math.log(a / e)
    return total


@dataclass(frozen=True)
class DriftReference:
    """Training-time distributions of a model version's features and score (probability), with their provenance."""

    features: dict[str, Distribution]
    score: Distribution
    source: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "score": self.score.to_dict(),
            "features": {name: d.to_dict() for name, d in sorted(self.features.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReference:
        features = {name: Distribution.from_dict(d) for name, d in data["features"].items()}
        return cls(features, Distribution.from_dict(data["score"]), dict(data.get("source", {})))


def build_reference(
    frame: pl.DataFrame,
    feature_names: Sequence[str],
    categorical: Sequence[str],
    scores: pl.Series,
    *,
    source: Mapping[str, Any] | None = None,
    bins: int = DEFAULT_BINS,
) -> DriftReference:
    """Fit bins on `frame` (training rows) and `scores` (their probabilities) and record the training shares."""
    features = {}
    for name in feature_names:
        kind: Kind = "categorical" if name in categorical else "numeric"
        features[name] = distribution(frame[name], fit_binning(frame[name], kind, bins))
    score = distribution(scores, fit_binning(scores, "numeric", bins))
    return DriftReference(features, score, dict(source or {}))


def population_psi(reference: DriftReference, frame: pl.DataFrame, scores: pl.Series | None) -> dict[str, float]:
    """PSI of every reference feature present in `frame` and, under the key `score`, of `scores`."""
    result = {
        name: psi(ref.shares, distribution(frame[name], ref.binning).shares)
        for name, ref in reference.features.items()
        if name in frame.columns
    }
    if scores is not None:
        result[SCORE] = psi(reference.score.shares, distribution(scores, reference.score.binning).shares)
    return result
