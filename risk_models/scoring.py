"""Scoring a theme's cohort as of one business date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl

from features.asof import ENTITY
from features.assembly import AS_OF, build_feature_frame
from features.blocks.base import FeatureBlock
from features.store import TableStore
from risk_models.cohort import cohort_frame
from risk_models.scorer import Scorer
from risk_models.spec import ThematicModelSpec

RAW = "raw_score"
PROBABILITY = "probability"
RANK = "rank"


def cohort_features(
    spec: ThematicModelSpec, store: TableStore, as_of: date, blocks: Sequence[FeatureBlock] | None = None
) -> pl.DataFrame:
    """Feature frame of every entity in the cohort at `as_of`, plus the entity's name/area/group columns.

    `blocks` replaces the spec's blocks (same names and columns), e.g. by precomputed ones in a sharded build.
    """
    cohort = cohort_frame(spec.cohort, store, spec.entity.table, [as_of])
    chosen = spec.blocks if blocks is None else blocks
    features = build_feature_frame(chosen, store, [as_of], cohort[ENTITY].to_list(), spec.entity.table)
    return cohort.join(features, on=[ENTITY, AS_OF], how="left").join(
        _entity_attributes(spec, store), on=ENTITY, how="left"
    )


def _entity_attributes(spec: ThematicModelSpec, store: TableStore) -> pl.DataFrame:
    """Name, area and group of each entity, for lists and peer comparisons (prefixed `entity__`)."""
    contract = store.contract(spec.entity.table)
    columns = [c for c in (spec.entity.name_column, spec.entity.area_column, spec.entity.group_column) if c]
    frame = store.frame(spec.entity.table).select(pl.col(contract.entity_key).alias(ENTITY), *columns)
    return frame.unique(ENTITY, keep="last", maintain_order=True).collect().rename({c: f"entity__{c}" for c in columns})


def score_frame(scorer: Scorer, features: pl.DataFrame) -> pl.DataFrame:
    """Raw score, calibrated probability and rank (1 = riskiest; ties broken by entity id) for every row."""
    return rank_scores(score_rows(scorer, features))


def score_rows(scorer: Scorer, features: pl.DataFrame) -> pl.DataFrame:
    """Raw score and calibrated probability of every row: each row on its own, so shards can score their rows."""
    raw = scorer.raw_score(features)
    return features.with_columns(
        pl.Series(RAW, raw, dtype=pl.Float64),
        pl.Series(PROBABILITY, scorer.calibration.apply(raw), dtype=pl.Float64),
    )


def rank_scores(scored: pl.DataFrame) -> pl.DataFrame:
    """Rank every row by raw score (1 = riskiest; ties broken by entity id), sorted by rank: needs every row."""
    raw = scored[RAW].to_numpy()
    order = np.lexsort((scored[ENTITY].to_numpy(), -raw))
    ranks = np.empty(raw.size, dtype=np.int64)
    ranks[order] = np.arange(1, raw.size + 1)
    return scored.with_columns(pl.Series(RANK, ranks)).sort(RANK)
