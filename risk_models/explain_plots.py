"""Explanation plots (PNG, headless): one entity's waterfall, and global views of the contributions.

Labels are the block columns' Chinese labels when a CJK font is installed (found with `fc-list :lang=zh`), else
their English labels (`plot_labels`). Global views can be split by warning tier (red/orange/yellow).
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: plots are written by nightly jobs and CI
import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib import font_manager

from risk_models.explain import Contributions
from risk_models.reasons import feature_columns
from risk_models.spec import ThematicModelSpec

TIER_COLORS = {
    "red": "#d62728",
    "红": "#d62728",
    "orange": "#ff7f0e",
    "橙": "#ff7f0e",
    "yellow": "#d4b400",
    "黄": "#d4b400",
}
UP, DOWN = "#c0392b", "#2e86c1"


@functools.lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family of an installed CJK font (registered with matplotlib), or None when there is none."""
    if shutil.which("fc-list") is None:
        return None
    listing = subprocess.run(
        ["fc-list", ":lang=zh", "--format", "%{file}|%{family}\n"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    fonts = sorted((line.split("|", 1) for line in listing if "|" in line), key=_font_preference)
    for file, families in fonts:
        try:
            font_manager.fontManager.addfont(file)  # registers every face of a .ttc collection
        except (OSError, RuntimeError, ValueError):
            continue
        known = {f.name for f in font_manager.fontManager.ttflist}
        family = next((f for f in families.split(",") if f in known), None)
        if family:
            return family
    return None


def _font_preference(entry: list[str]) -> tuple[bool, bool, bool, bool]:
    """Simplified-Chinese sans-serif regular faces first."""
    file, families = entry
    return ("Mono" in families, "Sans" not in families, "SC" not in families, "Regular" not in file)


def plot_labels(spec: ThematicModelSpec, language: str | None = None) -> dict[str, str]:
    """Feature -> label for plots: Chinese when asked for (or when a CJK font exists and no language is given)."""
    chinese = (language or ("zh" if cjk_font() else "en")) == "zh"
    return {name: (c.label_zh if chinese else c.label_en) for name, c in feature_columns(spec).items()}


def _style() -> None:
    family = cjk_font()
    if family:
        plt.rcParams["font.family"] = [family, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False


def _label(labels: Mapping[str, str] | None, feature: str) -> str:
    return (labels or {}).get(feature, feature)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _top(contributions: Contributions, top: int) -> list[int]:
    means = (
        np.abs(contributions.values).mean(axis=0) if len(contributions) else np.zeros(len(contributions.feature_names))
    )
    return [int(j) for j in np.argsort(-means, kind="stable")[:top]]


# ------------------------------------------------------------------------------------------------------ one entity
def waterfall(
    contributions: Contributions, row: int, path: Path, labels: Mapping[str, str] | None = None, top: int = 10
) -> Path:
    """From the base value to the entity's raw score: the `top` largest contributions, the rest as one bar."""
    _style()
    values = contributions.values[row]
    order = [int(j) for j in np.argsort(-np.abs(values), kind="stable")[:top]]
    steps = [(_label(labels, contributions.feature_names[j]), float(values[j])) for j in order]
    rest = float(values.sum() - sum(v for _, v in steps))
    if len(values) > top:
        chinese = any("\u4e00" <= ch <= "\u9fff" for name, _ in steps for ch in name)
        steps.append((f"其余{len(values) - top}项特征" if chinese else f"{len(values) - top} other features", rest))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(steps) + 1.8))
    level = contributions.base_value
    for i, (_, value) in enumerate(steps):
        ax.barh(i, value, left=level, color=UP if value > 0 else DOWN)
        ax.text(level + value, i, f" {value:+.2f}", va="center", ha="left" if value > 0 else "right", fontsize=8)
        level += value
    ax.set_yticks(range(len(steps)), [name for name, _ in steps])
    ax.invert_yaxis()
    ax.margins(x=0.12)
    ax.axvline(contributions.base_value, color="grey", linewidth=1, linestyle=":")
    ax.axvline(float(contributions.raw_scores[row]), color="black", linewidth=1)
    ax.set(
        xlabel=f"raw score (log-odds): base {contributions.base_value:.2f} -> {contributions.raw_scores[row]:.2f}",
        title=f"{contributions.entity_ids[row]}: contributions",
    )
    return _save(fig, path)


# ------------------------------------------------------------------------------------------------------ global views
def importance(
    contributions: Contributions,
    path: Path,
    labels: Mapping[str, str] | None = None,
    top: int = 15,
    tiers: Sequence[str | None] | None = None,
) -> Path:
    """Mean |contribution| of the `top` features; one bar per tier when `tiers` (one per row) is given."""
    _style()
    chosen = _top(contributions, top)
    groups = _groups(tiers, len(contributions))
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(chosen) * max(1, len(groups) // 2) + 1.5))
    height = 0.8 / len(groups)
    for k, (name, rows) in enumerate(groups.items()):
        means = np.abs(contributions.values[rows][:, chosen]).mean(axis=0) if rows.size else np.zeros(len(chosen))
        ax.barh(np.arange(len(chosen)) + k * height, means, height, label=name, color=TIER_COLORS.get(name))
    ax.set_yticks(np.arange(len(chosen)) + height * (len(groups) - 1) / 2)
    ax.set_yticklabels([_label(labels, contributions.feature_names[j]) for j in chosen])
    ax.invert_yaxis()
    ax.set(xlabel="mean |contribution| (log-odds)", title="Feature importance (mean |TreeSHAP|)")
    if len(groups) > 1:
        ax.legend(title="tier")
    return _save(fig, path)


def family_importance(
    contributions: Contributions,
    families: Mapping[str, str],
    path: Path,
    tiers: Sequence[str | None] | None = None,
) -> Path:
    """Mean over rows of |the family's summed contribution| per reason family (feature block)."""
    _style()
    names = sorted({families.get(f, f) for f in contributions.feature_names})
    member = np.array([[families.get(f, f) == n for f in contributions.feature_names] for n in names], dtype=float)
    per_row = np.abs(contributions.values @ member.T)  # rows × families
    order = np.argsort(-per_row.mean(axis=0) if len(contributions) else np.zeros(len(names)), kind="stable")
    groups = _groups(tiers, len(contributions))
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1.5))
    height = 0.8 / len(groups)
    for k, (name, rows) in enumerate(groups.items()):
        means = per_row[rows].mean(axis=0)[order] if rows.size else np.zeros(len(names))
        ax.barh(np.arange(len(names)) + k * height, means, height, label=name, color=TIER_COLORS.get(name))
    ax.set_yticks(np.arange(len(names)) + height * (len(groups) - 1) / 2)
    ax.set_yticklabels([names[i] for i in order])
    ax.invert_yaxis()
    ax.set(xlabel="mean |family contribution| (log-odds)", title="Reason families (feature blocks)")
    if len(groups) > 1:
        ax.legend(title="tier")
    return _save(fig, path)


def beeswarm(
    contributions: Contributions,
    frame: pl.DataFrame,
    path: Path,
    labels: Mapping[str, str] | None = None,
    top: int = 12,
    seed: int = 0,
) -> Path:
    """Each row's contribution of the `top` features, coloured by the feature's value rank (blue low, red high)."""
    _style()
    chosen = _top(contributions, top)
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(chosen) + 1.5))
    for i, j in enumerate(chosen):
        x = contributions.values[:, j]
        colour = _value_rank(frame, contributions.feature_names[j])
        y = i + rng.uniform(-0.3, 0.3, x.size)
        ax.scatter(x, y, c=colour, cmap="coolwarm", vmin=0, vmax=1, s=6, alpha=0.7, linewidths=0)
    ax.set_yticks(range(len(chosen)), [_label(labels, contributions.feature_names[j]) for j in chosen])
    ax.invert_yaxis()
    ax.axvline(0, color="grey", linewidth=1)
    ax.set(xlabel="contribution (log-odds); colour: feature value rank", title="Contributions of the top features")
    return _save(fig, path)


def dependence(
    contributions: Contributions,
    frame: pl.DataFrame,
    feature: str,
    path: Path,
    labels: Mapping[str, str] | None = None,
    tier_column: str | None = None,
) -> Path:
    """The feature's value against its contribution, coloured by tier when `tier_column` is given."""
    _style()
    y = contributions.column(feature)
    x, ticks = _axis_values(frame[feature])
    tiers = frame[tier_column].to_list() if tier_column else None
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name, rows in _groups(tiers, len(contributions)).items():
        ax.scatter(x[rows], y[rows], s=8, alpha=0.6, label=name, color=TIER_COLORS.get(name, "#555555"))
    if ticks:
        ax.set_xticks(range(len(ticks)), ticks, rotation=45, ha="right", fontsize=7)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set(
        xlabel=_label(labels, feature), ylabel="contribution (log-odds)", title=f"Dependence: {_label(labels, feature)}"
    )
    if tiers is not None:
        ax.legend(title="tier", fontsize=8)
    return _save(fig, path)


def dependence_plots(
    contributions: Contributions,
    frame: pl.DataFrame,
    folder: Path,
    labels: Mapping[str, str] | None = None,
    top: int = 4,
    tier_column: str | None = None,
) -> list[Path]:
    """Dependence plots of the `top` features by mean |contribution| (files `dependence_<feature>.png`)."""
    features = [contributions.feature_names[j] for j in _top(contributions, top)]
    return [dependence(contributions, frame, f, folder / f"dependence_{f}.png", labels, tier_column) for f in features]


def _groups(tiers: Sequence[str | None] | None, n: int) -> dict[str, np.ndarray]:
    """Row indices per tier (in order of first appearance; unlisted rows as 'none'), or all rows as one group."""
    if tiers is None:
        return {"all": np.arange(n)}
    names = ["none" if t is None else str(t) for t in tiers]
    return {name: np.flatnonzero(np.array(names) == name) for name in dict.fromkeys(names)}


def _value_rank(frame: pl.DataFrame, feature: str) -> np.ndarray:
    """Value rank in [0, 1] (missing and categorical values at 0.5)."""
    series = frame[feature]
    if not series.dtype.is_numeric():
        return np.full(series.len(), 0.5)
    ranks = series.cast(pl.Float64).fill_nan(None).rank("average").to_numpy()
    top = np.nanmax(ranks) if np.isfinite(ranks).any() else 1.0
    return np.nan_to_num((ranks - 1) / max(top - 1, 1), nan=0.5)


def _axis_values(series: pl.Series) -> tuple[np.ndarray, list[str]]:
    """Numeric values as they are (missing as NaN); categories as positions with their names as ticks."""
    if series.dtype.is_numeric():
        return series.cast(pl.Float64).fill_null(np.nan).to_numpy(), []
    names = sorted({str(v) for v in series.to_list()})
    position = {name: i for i, name in enumerate(names)}
    return np.array([position[str(v)] for v in series.to_list()], dtype=float), names
