"""Plots for evaluation reports (PNG, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # headless: reports are written by nightly jobs and CI
import matplotlib.pyplot as plt

if TYPE_CHECKING:
    from risk_models.evaluation import Evaluation

STYLES = {"model": "-", "oracle": ":", "rule": "--", "scorecard": "-."}


def plot_precision_curves(evaluation: Evaluation, path: Path) -> Path:
    """Precision when warning the top k, for each ranking, with the review budget marked."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, curve in evaluation.curves.items():
        ks, precision = zip(*curve, strict=True)
        ax.plot(ks, precision, STYLES.get(name, "-"), label=name, linewidth=2)
    ax.axvline(evaluation.budget, color="grey", linewidth=1)
    ax.text(evaluation.budget, 0.02, " review budget", color="grey")
    ax.set(
        xlabel="warnings per as-of date (k)",
        ylabel="precision (share confirmed)",
        ylim=(0, 1),
        title=f"{evaluation.theme}: precision at k, test period",
    )
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_calibration(evaluation: Evaluation, path: Path) -> Path:
    """Predicted probability against the observed rate, by equal-count bins."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    predicted = [r["predicted"] for r in evaluation.calibration]
    observed = [r["observed"] for r in evaluation.calibration]
    top = max([*predicted, *observed, 0.05]) * 1.1
    ax.plot([0, top], [0, top], color="grey", linewidth=1)
    ax.plot(predicted, observed, "o-", linewidth=2)
    ax.set(
        xlabel="predicted probability",
        ylabel="observed rate",
        xlim=(0, top),
        ylim=(0, top),
        title="calibration, test period",
    )
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
