"""The explain stage: exact contributions for every listed entity, stored with the base value, and their reasons."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from features.asof import ENTITY
from features.atomic import write_parquet_atomic
from risk_models.explain import Contributions, contributions
from risk_models.global_views import write_global_views
from risk_models.reasons import REASONS, peer_columns, peer_medians, reasons_for
from risk_models.scoring import RANK

if TYPE_CHECKING:
    from pipelines.nightly import RunContext


def explain_listed(
    ctx: RunContext, scored: pl.DataFrame, warnings: pl.DataFrame, explained: Contributions | None = None
) -> pl.DataFrame:
    """Warnings with `reasons` (structs) and `reasons_zh` (text); writes contributions.parquet and peers.parquet.

    `explained`: the listed rows' contributions in rank order when already computed (by the shards of a run).
    """
    listed = warnings.filter(pl.col("tier").is_not_null())[ENTITY]
    rows = scored.filter(pl.col(ENTITY).is_in(listed.to_list())).sort(RANK)
    if explained is None:
        explained = contributions(ctx.model.scorer, rows, booster=ctx.model.booster)
    elif list(explained.entity_ids) != rows[ENTITY].to_list():
        raise AssertionError("the shards' contributions do not cover the listed entities in rank order")
    write_parquet_atomic(explained.to_frame(), ctx.staging / "contributions.parquet")
    groups = peer_columns(ctx.spec, scored)
    peers = peer_medians(scored, list(explained.feature_names), groups)
    write_parquet_atomic(peers, ctx.staging / "peers.parquet")
    reasons = reasons_for(ctx.spec, rows, explained, warnings.select(ENTITY, "triggers"), peers, group_cols=groups)
    ctx.timings["max_additivity_error"] = explained.max_additivity_error
    ctx.explained = explained
    ctx.peer_groups = groups
    tiers = rows.join(warnings.select(ENTITY, "tier"), on=ENTITY, how="left")
    group = f"entity__{ctx.spec.entity.group_column}" if ctx.spec.entity.group_column else None
    write_global_views(ctx.spec, explained, tiers, ctx.staging / "explanations", tier_column="tier", group_column=group)
    text = pl.col(REASONS).list.eval(pl.element().struct.field("text_zh")).list.join("；").alias("reasons_zh")
    return warnings.join(reasons.select(ENTITY, REASONS, text), on=ENTITY, how="left")
