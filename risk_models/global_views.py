"""Global explanation views of a set of contributions: importance by feature and by reason family (split by tier and
by group, e.g. sector), the beeswarm and dependence plots of the top features. Written per run and per model version.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from risk_models.explain import Contributions
from risk_models.explain_plots import beeswarm, dependence_plots, family_importance, importance, plot_labels
from risk_models.reasons import feature_families
from risk_models.spec import ThematicModelSpec


def write_global_views(
    spec: ThematicModelSpec,
    explained: Contributions,
    frame: pl.DataFrame,
    folder: Path,
    *,
    tier_column: str | None = None,
    group_column: str | None = None,
) -> dict[str, Path]:
    """PNG files of the global views into `folder`; `frame` holds the explained rows' features, in the same order."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = plot_labels(spec)
    tiers = frame[tier_column].to_list() if tier_column and tier_column in frame.columns else None
    views = {
        "importance": importance(explained, folder / "importance.png", labels, tiers=tiers),
        "families": family_importance(explained, feature_families(spec), folder / "families.png", tiers=tiers),
        "beeswarm": beeswarm(explained, frame, folder / "beeswarm.png", labels),
    }
    if group_column and group_column in frame.columns:
        groups = [None if v is None else str(v) for v in frame[group_column].to_list()]
        views["importance_by_group"] = importance(
            explained, folder / "importance_by_group.png", labels, top=10, tiers=groups
        )
    for path in dependence_plots(explained, frame, folder, labels, top=4, tier_column=tier_column):
        views[path.stem] = path
    return views
