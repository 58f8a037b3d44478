"""Metrics staff feel: precision, recall and lift at the review budget per as-of date; AUC, PR-AUC, calibration."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, roc_auc_score

from features.asof import ENTITY
from features.assembly import AS_OF
from risk_models.labels import LABEL

SCORE = "score"


def top_by_date(frame: pl.DataFrame, budget: int) -> pl.DataFrame:
    """The `budget` highest-scored rows of each as-of date (ties broken by entity id, so results are reproducible)."""
    ranked = frame.sort([AS_OF, SCORE, ENTITY], descending=[False, True, False])
    return ranked.with_columns(pl.int_range(pl.len()).over(AS_OF).alias("_rank")).filter(pl.col("_rank") < budget)


def at_budget(frame: pl.DataFrame, budget: int) -> dict[str, float]:
    """Mean over as-of dates of precision, recall and lift when the top `budget` are warned.

    `frame` has `entity_id`, `as_of`, `label` and `score`.
    """
    warned = top_by_date(frame, budget).group_by(AS_OF).agg(pl.len().alias("warned"), pl.col(LABEL).sum().alias("hits"))
    totals = frame.group_by(AS_OF).agg(pl.len().alias("cohort"), pl.col(LABEL).sum().alias("positives"))
    per_date = warned.join(totals, on=AS_OF).with_columns(
        (pl.col("hits") / pl.col("warned")).alias("precision"),
        (pl.col("hits") / pl.col("positives")).alias("recall"),
        (pl.col("positives") / pl.col("cohort")).alias("base_rate"),
    )
    per_date = per_date.with_columns((pl.col("precision") / pl.col("base_rate")).alias("lift"))
    means = per_date.select(pl.col("precision", "recall", "lift", "base_rate").mean()).row(0, named=True)
    return {k: float(v) for k, v in means.items()} | {"budget": budget, "dates": per_date.height}


def ranking(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    if labels.min() == labels.max():
        return {"auc": float("nan"), "pr_auc": float("nan")}
    return {"auc": float(roc_auc_score(labels, scores)), "pr_auc": float(average_precision_score(labels, scores))}


def precision_curve(frame: pl.DataFrame, max_k: int, points: int = 30) -> list[tuple[int, float]]:
    """Mean precision over dates when warning the top k, for k up to `max_k`."""
    ks = sorted({max(1, int(k)) for k in np.linspace(1, max_k, points)})
    return [(k, at_budget(frame, k)["precision"]) for k in ks]


def calibration_table(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Rows of equal-count probability bins: mean predicted probability against the observed rate."""
    order = np.argsort(probabilities, kind="stable")
    rows = []
    for part in np.array_split(order, bins):
        if part.size:
            rows.append(
                {
                    "predicted": float(probabilities[part].mean()),
                    "observed": float(labels[part].mean()),
                    "n": int(part.size),
                }
            )
    return rows


def breakdown(frame: pl.DataFrame, budget: int, by: str) -> list[dict[str, Any]]:
    """Warned, confirmed and precision per group (sector, town) among the top `budget`, with the group's positives."""
    warned = top_by_date(frame, budget).group_by(by).agg(pl.len().alias("warned"), pl.col(LABEL).sum().alias("hits"))
    totals = frame.group_by(by).agg(pl.len().alias("rows"), pl.col(LABEL).sum().alias("positives"))
    table = totals.join(warned, on=by, how="left").fill_null(0)
    table = table.with_columns(pl.when(pl.col("warned") > 0).then(pl.col("hits") / pl.col("warned")).alias("precision"))
    return table.sort("positives", descending=True).to_dicts()
