"""Explaining one entity's score on demand: its probability, tier, reasons and a waterfall plot.

When the theme has a published run for the date, the run's own feature values, peers and tier are used (the auditor
sees exactly what was published); otherwise the cohort is scored afresh with the champion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from features.asof import ENTITY
from features.store import TableStore, known_at
from pipelines import settings
from pipelines.runs import RunPaths
from pipelines.tables import validated_folder
from risk_models.explain import contributions
from risk_models.explain_plots import plot_labels, waterfall
from risk_models.reasons import peer_columns, peer_medians, reasons_for
from risk_models.scoring import cohort_features, score_frame
from risk_models.spec import ThematicModelSpec


@dataclass(frozen=True)
class EntityExplanation:
    entity_id: str
    as_of: date
    probability: float
    rank: int
    cohort: int
    tier: str | None
    reasons: list[dict[str, Any]]
    waterfall_png: Path
    source: str


def _scored_cohort(spec: ThematicModelSpec, model: Any, as_of: date, data_dir: Path) -> tuple[pl.DataFrame, str]:
    run = RunPaths(settings.workspace() / "runs", spec.name).final(as_of)
    if (run / "features.parquet").exists():
        return score_frame(model.scorer, pl.read_parquet(run / "features.parquet")), f"published run {run}"
    store = known_at(TableStore.from_folder(validated_folder(data_dir, as_of), list(spec.tables)), as_of)
    return score_frame(model.scorer, cohort_features(spec, store, as_of)), f"scored afresh from {data_dir}"


def _tier(spec: ThematicModelSpec, as_of: date, entity: str) -> str | None:
    run = RunPaths(settings.workspace() / "runs", spec.name).final(as_of)
    if not (run / "warnings.parquet").exists():
        return None
    row = pl.read_parquet(run / "warnings.parquet", columns=[ENTITY, "tier_zh"]).filter(pl.col(ENTITY) == entity)
    return row["tier_zh"][0] if row.height else None


def explain_entity(
    spec: ThematicModelSpec, model: Any, entity: str, as_of: date, data_dir: Path, out_dir: Path
) -> EntityExplanation:
    """Reasons and a waterfall for `entity` as of `as_of` (raises LookupError when it is not in the cohort)."""
    scored, source = _scored_cohort(spec, model, as_of, data_dir)
    row = scored.filter(pl.col(ENTITY) == entity)
    if row.height == 0:
        raise LookupError(f"{entity} is not in the {spec.name} cohort on {as_of} (not registered, ended, or filtered)")
    explained = contributions(model.scorer, row, booster=model.booster)
    groups = peer_columns(spec, scored)
    peers = peer_medians(scored, list(explained.feature_names), groups)
    fired = [t.feature for t in spec.policy.triggers if _fires(t.op, row[t.feature][0], t.value)]
    reasons = reasons_for(spec, row, explained, {entity: fired}, peers, group_cols=groups)["reasons"][0]
    png = waterfall(explained, 0, out_dir / f"waterfall_{spec.name}_{entity}_{as_of}.png", plot_labels(spec))
    return EntityExplanation(
        entity,
        as_of,
        float(row["probability"][0]),
        int(row["rank"][0]),
        scored.height,
        _tier(spec, as_of, entity),
        list(reasons),
        png,
        source,
    )


def _fires(op: str, value: Any, threshold: float) -> bool:
    from risk_models.warning_list import OPERATORS

    return value is not None and bool(OPERATORS[op](value, threshold))
