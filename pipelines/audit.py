"""Reproducing a published run: recompute features, scores and contributions from the stored inputs and model.

Every published score has a reproduction record in its run's manifest: the inputs' paths and sha256, the model
version and sha256, the spec hash and the code version. `reproduce_run` checks each of them, recomputes, and counts
mismatches (which must be 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from features.asof import ENTITY
from features.loading import file_sha256
from features.store import TableStore, known_at
from pipelines import settings
from pipelines.runs import read_manifest, verify_run
from risk_models.explain import contributions
from risk_models.scoring import cohort_features, score_frame
from risk_models.themes import load_theme


@dataclass
class Reproduction:
    """What an audit found: checked rows and every mismatch, by kind."""

    run_dir: Path
    entities: int = 0
    checks: dict[str, str] = field(default_factory=dict)
    mismatches: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    max_contribution_difference: float = 0.0

    @property
    def ok(self) -> bool:
        return not any(self.mismatches.values()) and all(v == "ok" for v in self.checks.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "entities": self.entities,
            "checks": self.checks,
            "mismatches": self.mismatches,
            "examples": self.examples[:10],
            "max_contribution_difference": self.max_contribution_difference,
            "ok": self.ok,
        }


def _check_inputs(manifest: dict[str, Any], report: Reproduction) -> TableStore:
    paths = {}
    for name, entry in manifest["inputs"].items():
        path = Path(entry["path"])
        same = path.exists() and file_sha256(path) == entry["sha256"]
        report.checks[f"input {name}"] = "ok" if same else f"changed or missing: {path}"
        paths[name] = path
    folder = {p.parent for p in paths.values()}.pop()
    return TableStore.from_folder(folder, list(paths))


def _load_model(manifest: dict[str, Any], theme: str, report: Reproduction) -> Any:
    from model_registry.registry import Registry

    model = Registry.open(settings.registry_uri()).load(theme, int(manifest["model"]["version"]))
    same = model.scorer.sha256 == manifest["model"]["sha256"]
    report.checks["model sha256"] = "ok" if same else "the registered model differs from the one that scored the run"
    return model


def reproduce_run(run_dir: Path, entities: list[str] | None = None, sample: float | None = None) -> Reproduction:
    """Recompute a run for some entities (all listed ones by default) and compare with what was published."""
    report = Reproduction(run_dir)
    problems = verify_run(run_dir)
    report.checks["run files"] = "ok" if not problems else "; ".join(problems[:5])
    manifest = read_manifest(run_dir)
    spec = load_theme(manifest["theme"])
    report.checks["spec hash"] = "ok" if spec.spec_hash() == manifest["spec_hash"] else "the theme's spec changed"
    as_of = date.fromisoformat(manifest["as_of"])
    store = known_at(_check_inputs(manifest, report), as_of)
    model = _load_model(manifest, spec.name, report)
    published = pl.read_parquet(run_dir / "features.parquet")
    chosen = _choose(run_dir, published, entities, sample)
    report.entities = len(chosen)
    recomputed = score_frame(model.scorer, cohort_features(spec, store, as_of))
    _compare_features(published, recomputed, chosen, model.scorer.feature_names, report)
    _compare_scores(pl.read_parquet(run_dir / "scores.parquet"), recomputed, chosen, report)
    _compare_contributions(run_dir, model, recomputed, chosen, report)
    return report


def _choose(run_dir: Path, published: pl.DataFrame, entities: list[str] | None, sample: float | None) -> list[str]:
    if entities:
        return entities
    if sample:
        return published.sample(fraction=sample, seed=0)[ENTITY].to_list() or published[ENTITY].head(1).to_list()
    listed = pl.read_parquet(run_dir / "warnings.parquet").filter(pl.col("tier").is_not_null())
    return listed[ENTITY].to_list()


def _compare_features(
    published: pl.DataFrame,
    recomputed: pl.DataFrame,
    chosen: list[str],
    features: tuple[str, ...],
    report: Reproduction,
) -> None:
    left = published.filter(pl.col(ENTITY).is_in(chosen)).sort(ENTITY)
    right = recomputed.filter(pl.col(ENTITY).is_in(chosen)).sort(ENTITY)
    report.mismatches["missing entities"] = len(set(chosen) - set(right[ENTITY].to_list()))
    joined = left.join(right, on=ENTITY, how="inner", suffix="__re")
    count = 0
    for name in features:
        differs = joined.filter(~pl.col(name).eq_missing(pl.col(f"{name}__re")))
        count += differs.height
        report.examples += [f"feature {name} of {e}" for e in differs[ENTITY].head(2).to_list()]
    report.mismatches["feature values"] = count


def _compare_scores(scores: pl.DataFrame, recomputed: pl.DataFrame, chosen: list[str], report: Reproduction) -> None:
    joined = scores.filter(pl.col(ENTITY).is_in(chosen)).join(
        recomputed.select(ENTITY, pl.col("raw_score").alias("raw_re")), on=ENTITY
    )
    differs = joined.filter(pl.col("raw_score") != pl.col("raw_re"))
    report.mismatches["scores"] = differs.height
    report.examples += [f"score of {e}" for e in differs[ENTITY].head(3).to_list()]


def _compare_contributions(
    run_dir: Path, model: Any, recomputed: pl.DataFrame, chosen: list[str], report: Reproduction
) -> None:
    stored = pl.read_parquet(run_dir / "contributions.parquet").filter(pl.col(ENTITY).is_in(chosen)).sort(ENTITY)
    if stored.height == 0:
        report.mismatches["contributions"] = 0
        return
    rows = recomputed.filter(pl.col(ENTITY).is_in(stored[ENTITY].to_list())).sort(ENTITY)
    again = contributions(model.scorer, rows, booster=model.booster)
    names = list(again.feature_names)
    difference = np.abs(stored.select(names).to_numpy() - np.asarray(again.values))
    report.max_contribution_difference = float(difference.max()) if difference.size else 0.0
    report.mismatches["contributions"] = int((difference.max(axis=1) > 0).sum()) if difference.size else 0
