"""Exact TreeSHAP contributions of a scored frame, with the additivity check on every row (RELIABILITY M12).

Three exact, path-dependent implementations give the same values (to floating-point rounding, < 1e-9):

- ``"lightgbm"``: LightGBM's own `predict(pred_contrib=True)`;
- ``"shap"``: `shap.TreeExplainer(booster, feature_perturbation="tree_path_dependent")` (for a LightGBM booster without
  background data shap itself delegates to LightGBM's C++ TreeSHAP, so it is the same numbers with more overhead);
- ``"fast"``: per-leaf precomputed tables in numba (`risk_models.treeshap_fast`), several times faster.

Features are always selected by name through `Scorer.matrix`, never by column position. Contributions are in the
model's raw (log-odds) space: `values.sum(axis=1) + base_value == raw_scores` within `ADDITIVITY_TOLERANCE`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import polars as pl

from features.asof import ENTITY
from features.assembly import AS_OF
from risk_models.scorer import Scorer

Method = Literal["lightgbm", "shap", "fast"]
METHODS: tuple[Method, ...] = ("lightgbm", "shap", "fast")
DEFAULT_METHOD: Method = "fast"  # measured in benchmarks/bench_explain.py: identical values, several times faster
ADDITIVITY_TOLERANCE = 1e-6
CROSS_CHECK_ROWS = 32  # rows of a "fast" result recomputed by LightGBM and compared (values, not only their sum)
CROSS_CHECK_TOLERANCE = 1e-9


class AdditivityError(ValueError):
    """Contributions plus the base value do not add up to the raw score (M12)."""


class ContributionMismatch(ValueError):
    """The table method's values differ from LightGBM's on the cross-checked rows."""


@dataclass(frozen=True)
class Contributions:
    """Per-row, per-feature TreeSHAP contributions to the raw score (log-odds), in the model's feature order.

    Attributes:
        entity_ids: the frame's `entity_id` per row.
        as_of: the frame's `as_of` per row (empty when the frame has no such column).
        feature_names: the model's features, in the order of the columns of `values`.
        values: rows × features, float64, read-only.
        base_value: the expected raw score under the training data (the same for every row).
        raw_scores: the model's raw score per row (computed independently by LightGBM), read-only.
        max_additivity_error: max over rows of |sum(values) + base_value - raw_score|.
        method: which implementation produced the values.
        model_sha256: the model the values explain.
    """

    entity_ids: tuple[str, ...]
    as_of: tuple[date, ...]
    feature_names: tuple[str, ...]
    values: np.ndarray
    base_value: float
    raw_scores: np.ndarray
    max_additivity_error: float
    method: str
    model_sha256: str

    def __post_init__(self) -> None:
        n, f = len(self.entity_ids), len(self.feature_names)
        if self.values.shape != (n, f) or self.raw_scores.shape != (n,):
            raise ValueError(f"values {self.values.shape} / raw scores {self.raw_scores.shape} do not fit {n}×{f}")
        if self.as_of and len(self.as_of) != n:
            raise ValueError("as_of must be empty or have one date per row")
        for array in (self.values, self.raw_scores):
            array.setflags(write=False)

    def __len__(self) -> int:
        return len(self.entity_ids)

    def column(self, feature: str) -> np.ndarray:
        return np.asarray(self.values[:, self.feature_names.index(feature)])

    def mean_abs(self) -> dict[str, float]:
        """Mean |contribution| per feature, largest first (the global importance view)."""
        means = np.abs(self.values).mean(axis=0) if len(self) else np.zeros(len(self.feature_names))
        order = np.argsort(-means, kind="stable")
        return {self.feature_names[i]: float(means[i]) for i in order}

    def to_frame(self) -> pl.DataFrame:
        """Wide frame: keys, base value, raw score and one Float64 column per feature."""
        keys: dict[str, object] = {ENTITY: list(self.entity_ids)}
        if self.as_of:
            keys[AS_OF] = pl.Series(AS_OF, list(self.as_of), dtype=pl.Date)
        frame = pl.DataFrame(keys)
        values = pl.DataFrame(np.asarray(self.values), schema=list(self.feature_names), orient="row")
        return pl.concat(
            [
                frame.with_columns(
                    pl.lit(self.base_value).alias("base_value"), pl.Series("raw_score", self.raw_scores)
                ),
                values,
            ],
            how="horizontal",
        )


def contributions(
    scorer: Scorer,
    frame: pl.DataFrame,
    method: Method = DEFAULT_METHOD,
    num_threads: int | None = None,
    tolerance: float = ADDITIVITY_TOLERANCE,
    booster: lgb.Booster | None = None,
    cross_check: int = CROSS_CHECK_ROWS,
) -> Contributions:
    """Exact TreeSHAP contributions of every row of `frame` (features selected by name), additivity checked.

    Raises `AdditivityError` when any row's contributions plus the base value miss its raw score by more than
    `tolerance`; the largest miss is reported in the result otherwise. With `method="fast"`, `cross_check` evenly
    spaced rows are also recomputed by LightGBM and must agree value by value (`ContributionMismatch`): additivity
    alone would not notice contributions moved between features.
    """
    model = booster or scorer.booster()
    matrix = scorer.matrix(frame)
    threads = num_threads or scorer.num_threads
    values, base = _compute(scorer, model, matrix, method, threads)
    raw = _raw_scores(model, matrix, threads)
    if method == "fast" and cross_check > 0 and matrix.shape[0]:
        _cross_check(model, matrix, values, base, cross_check, threads)
    error = float(np.max(np.abs(values.sum(axis=1) + base - raw))) if raw.size else 0.0
    if not error <= tolerance:  # also catches NaN
        worst = int(np.nanargmax(np.abs(values.sum(axis=1) + base - raw)))
        raise AdditivityError(
            f"contributions + base differ from the raw score by {error:.3g} (> {tolerance:g}) for row {worst} "
            f"({method}); the explanation does not match the model"
        )
    as_of = tuple(frame[AS_OF].to_list()) if AS_OF in frame.columns else ()
    return Contributions(
        entity_ids=tuple(str(e) for e in frame[ENTITY].to_list()),
        as_of=as_of,
        feature_names=scorer.feature_names,
        values=values,
        base_value=base,
        raw_scores=raw,
        max_additivity_error=error,
        method=method,
        model_sha256=scorer.sha256,
    )


def _compute(
    scorer: Scorer, model: lgb.Booster, matrix: np.ndarray, method: Method, threads: int
) -> tuple[np.ndarray, float]:
    """(rows × features contributions, base value) by the chosen implementation."""
    n, f = matrix.shape
    if n == 0 and method != "fast":  # LightGBM cannot predict zero rows
        return np.empty((0, f)), _empty_base(model, f, threads)
    if method == "fast":
        from risk_models.treeshap_fast import compile_model, shap_values

        tables = compile_model(scorer.model_text)
        return shap_values(tables, matrix, threads), float(tables.base_value)
    if method == "lightgbm":
        out = np.asarray(model.predict(matrix, pred_contrib=True, num_threads=threads), dtype=np.float64)
    elif method == "shap":
        out = _shap_values(scorer.model_text, matrix, threads)
    else:
        raise ValueError(f"unknown contribution method {method!r}; choose one of {METHODS}")
    out = out.reshape(n, f + 1)
    return np.ascontiguousarray(out[:, :f]), _constant_base(out[:, f])


def _shap_values(model_text: str, matrix: np.ndarray, threads: int) -> np.ndarray:
    import shap

    explainer = shap.TreeExplainer(_ThreadedBooster(model_text, threads), feature_perturbation="tree_path_dependent")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shap's note that binary LightGBM output shapes changed in 0.45
        values = np.asarray(explainer.shap_values(matrix, check_additivity=False), dtype=np.float64)
    base = np.full((values.shape[0], 1), float(np.asarray(explainer.expected_value).reshape(-1)[0]))
    return np.hstack([values, base])


class _ThreadedBooster(lgb.Booster):
    """A booster whose predictions use a fixed thread count (shap calls `predict` without one)."""

    def __init__(self, model_text: str, threads: int) -> None:
        super().__init__(model_str=model_text)
        self._threads = threads

    def predict(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("num_threads", self._threads)
        return super().predict(data, *args, **kwargs)


def _cross_check(
    model: lgb.Booster, matrix: np.ndarray, values: np.ndarray, base: float, rows: int, threads: int
) -> None:
    picked = np.unique(np.linspace(0, matrix.shape[0] - 1, min(rows, matrix.shape[0])).astype(np.int64))
    reference = np.asarray(model.predict(matrix[picked], pred_contrib=True, num_threads=threads), dtype=np.float64)
    reference = reference.reshape(picked.size, matrix.shape[1] + 1)
    gap = max(float(np.max(np.abs(reference[:, :-1] - values[picked]))), float(np.max(np.abs(reference[:, -1] - base))))
    if not gap <= CROSS_CHECK_TOLERANCE:
        raise ContributionMismatch(
            f"the table method differs from LightGBM's pred_contrib by {gap:.3g} on the cross-checked rows; "
            "use method='lightgbm' and report the model"
        )


def _raw_scores(model: lgb.Booster, matrix: np.ndarray, threads: int) -> np.ndarray:
    if matrix.shape[0] == 0:
        return np.empty(0)
    return np.asarray(model.predict(matrix, raw_score=True, num_threads=threads), dtype=np.float64).reshape(-1)


def _constant_base(column: np.ndarray) -> float:
    if not np.all(column == column[0]):
        raise AdditivityError("the base value differs between rows; the model is not a plain tree ensemble")
    return float(column[0])


def _empty_base(model: lgb.Booster, n_features: int, threads: int) -> float:
    probe = np.full((1, n_features), np.nan)
    return float(np.asarray(model.predict(probe, pred_contrib=True, num_threads=threads)).reshape(-1)[-1])
