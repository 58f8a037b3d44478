"""The trained scorer: a native LightGBM text model, its feature contract and its calibration. No pickle anywhere."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl


class FeatureMismatch(ValueError):
    """The frame to score does not carry the model's features with the model's types."""


@dataclass(frozen=True)
class Calibration:
    """Platt scaling of the raw margin: p = sigmoid(a * raw + b). Strictly monotone, so ranks are kept."""

    a: float
    b: float

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 / (1.0 + np.exp(-(self.a * raw + self.b))))


@dataclass(frozen=True)
class Scorer:
    """Everything needed to score: model text, ordered feature names, category codes and calibration."""

    model_text: str
    feature_names: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]
    calibration: Calibration
    num_threads: int = 1

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.model_text.encode("utf-8")).hexdigest()

    def booster(self) -> lgb.Booster:
        booster = lgb.Booster(model_str=self.model_text)
        if tuple(booster.feature_name()) != self.feature_names:
            raise FeatureMismatch("the model text's feature names differ from the scorer's feature list")
        return booster

    def matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """Select the model's features by name (never by position) and encode categories with the training codes."""
        missing = [f for f in self.feature_names if f not in frame.columns]
        if missing:
            raise FeatureMismatch(
                f"the frame lacks the model's features {missing[:5]}{'...' if len(missing) > 5 else ''}"
                " (dropped or renamed upstream?)"
            )
        columns = [self._encode(frame.get_column(name)) for name in self.feature_names]
        return np.column_stack(columns).astype(np.float64) if columns else np.empty((frame.height, 0))

    def _encode(self, series: pl.Series) -> pl.Series:
        name = series.name
        if name in self.categories:
            codes = {value: float(i) for i, value in enumerate(self.categories[name])}
            if series.dtype != pl.String:
                raise FeatureMismatch(f"feature {name!r} should be text (a category), got {series.dtype}")
            return series.replace_strict(codes, default=None, return_dtype=pl.Float64).fill_null(np.nan)
        if not series.dtype.is_numeric() and series.dtype != pl.Boolean:
            raise FeatureMismatch(f"feature {name!r} should be numeric, got {series.dtype}")
        return series.cast(pl.Float64).fill_null(np.nan)

    def raw_score(self, frame: pl.DataFrame, booster: lgb.Booster | None = None) -> np.ndarray:
        model = booster or self.booster()
        return np.asarray(model.predict(self.matrix(frame), raw_score=True, num_threads=self.num_threads))

    def probability(self, frame: pl.DataFrame, booster: lgb.Booster | None = None) -> np.ndarray:
        return self.calibration.apply(self.raw_score(frame, booster))

    def metadata(self) -> dict[str, Any]:
        return {
            "feature_names": list(self.feature_names),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "calibration": {"method": "platt", "a": self.calibration.a, "b": self.calibration.b},
            "model_sha256": self.sha256,
        }

    @classmethod
    def from_parts(cls, model_text: str, metadata: dict[str, Any], num_threads: int = 1) -> Scorer:
        if hashlib.sha256(model_text.encode("utf-8")).hexdigest() != metadata["model_sha256"]:
            raise ValueError("model text sha256 differs from the recorded one: refusing a tampered model")
        calibration = Calibration(metadata["calibration"]["a"], metadata["calibration"]["b"])
        categories = {k: tuple(v) for k, v in metadata["categories"].items()}
        return cls(model_text, tuple(metadata["feature_names"]), categories, calibration, num_threads)


def metadata_json(scorer: Scorer) -> str:
    return json.dumps(scorer.metadata(), ensure_ascii=False, indent=2, sort_keys=True)
