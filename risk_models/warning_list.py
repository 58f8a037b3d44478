"""From scores to a warning list staff can work through: budget, tiers, rule floors, cooldown, status.

Review capacity is the binding constraint: the model fills the review budget (per run and per area) in rank order;
rule triggers (escrow line crossed, legal-representative change, abnormal list) put an entity on the list whatever its
score, with a reason of their own, and set a floor to its tier. A tier only falls after `cooldown_runs` consecutive
runs below it, so staff are not whipsawed by noise.
"""

from __future__ import annotations

import operator
from collections.abc import Collection
from typing import Any

import polars as pl

from features.asof import ENTITY
from risk_models.scoring import RANK
from risk_models.spec import RuleTrigger, Tier, WarningPolicy

TIER = "tier"
MODEL_TIER = "model_tier"
STATUS = "status"
TRIGGERS = "triggers"
STREAK = "downgrade_streak"
STATUS_LABELS = {"new": "新增", "escalated": "升级", "persisting": "持续", "de-escalated": "降级", "dropped": "移出"}
OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}


def _tier_index(policy: WarningPolicy) -> dict[str, int]:
    return {t.name: i for i, t in enumerate(policy.tiers)}


def select_budget(scored: pl.DataFrame, policy: WarningPolicy, area: str | None) -> pl.DataFrame:
    """The top of the ranking within the run budget and, when set, the per-area budget."""
    ranked = scored.sort(RANK)
    if policy.budget_per_area and area:
        ranked = ranked.filter(pl.int_range(pl.len()).over(area) < policy.budget_per_area)
    return ranked.head(policy.budget_per_run).with_columns(pl.int_range(1, pl.len() + 1).alias("budget_rank"))


def model_tier(budget_rank: pl.Expr, probability: pl.Expr, tiers: tuple[Tier, ...], budget: int) -> pl.Expr:
    """The first tier whose share of the budget covers the rank, or whose probability floor is met."""
    expr = pl.lit(None, dtype=pl.String)
    for tier in reversed(tiers):
        expr = (
            pl.when((budget_rank <= tier.share * budget) | (probability >= tier.min_probability))
            .then(pl.lit(tier.name))
            .otherwise(expr)
        )
    return expr


def triggered(scored: pl.DataFrame, triggers: tuple[RuleTrigger, ...]) -> pl.DataFrame:
    """entity_id with the list of triggered rule codes and their floor tier names (rows with any trigger only)."""
    if not triggers:
        return pl.DataFrame(schema={ENTITY: pl.String, TRIGGERS: pl.List(pl.String), "floors": pl.List(pl.String)})
    hits = [
        pl.when(OPERATORS[t.op](pl.col(t.feature), t.value).fill_null(False)).then(pl.lit(t.feature)) for t in triggers
    ]
    floors = [
        pl.when(OPERATORS[t.op](pl.col(t.feature), t.value).fill_null(False)).then(pl.lit(t.tier)) for t in triggers
    ]
    frame = scored.select(
        ENTITY,
        pl.concat_list(hits).list.drop_nulls().alias(TRIGGERS),
        pl.concat_list(floors).list.drop_nulls().alias("floors"),
    )
    return frame.filter(pl.col(TRIGGERS).list.len() > 0)


def _highest(tier_names: pl.Expr, index: dict[str, int]) -> pl.Expr:
    """The most severe tier among names (lowest index)."""
    ranks = tier_names.list.eval(pl.element().replace_strict(index, return_dtype=pl.Int32)).list.min()
    return ranks.replace_strict({i: n for n, i in index.items()}, default=None, return_dtype=pl.String)


def current_tiers(scored: pl.DataFrame, policy: WarningPolicy, area: str | None) -> pl.DataFrame:
    """Entities that qualify this run (budget or trigger), their model tier, triggers and proposed tier."""
    index = _tier_index(policy)
    budget = select_budget(scored, policy, area).select(
        ENTITY,
        model_tier(pl.col("budget_rank"), pl.col("probability"), policy.tiers, policy.budget_per_run).alias(MODEL_TIER),
    )
    rules = triggered(scored, policy.triggers)
    merged = budget.join(rules, on=ENTITY, how="full", coalesce=True)
    merged = merged.with_columns(pl.col(TRIGGERS, "floors").fill_null(pl.lit([], dtype=pl.List(pl.String))))
    candidates = pl.concat_list([pl.col(MODEL_TIER), pl.col("floors")]).list.drop_nulls()
    return merged.with_columns(_highest(candidates, index).alias("proposed")).drop("floors")


def apply_cooldown(
    current: pl.DataFrame, previous: pl.DataFrame | None, cohort: Collection[str], policy: WarningPolicy
) -> pl.DataFrame:
    """Published tier and status against the previous run, holding downgrades for `cooldown_runs` runs."""
    index = _tier_index(policy)
    prev = _previous(previous)
    joined = current.join(prev, on=ENTITY, how="full", coalesce=True)
    new_i = pl.col("proposed").replace_strict(index, default=len(index), return_dtype=pl.Int32)
    old_i = pl.col("prev_tier").replace_strict(index, default=len(index), return_dtype=pl.Int32)
    lower = pl.col("prev_tier").is_not_null() & (new_i > old_i)
    streak = pl.when(lower).then(pl.col("prev_streak").fill_null(0) + 1).otherwise(0)
    # An entity that left the cohort (closed, deregistered) drops at once: there is nothing left to watch.
    hold = lower & (streak < policy.cooldown_runs) & pl.col(ENTITY).is_in(list(cohort))
    tier = pl.when(hold).then(pl.col("prev_tier")).otherwise(pl.col("proposed"))
    out = joined.with_columns(
        tier.alias(TIER),
        pl.when(hold).then(streak).otherwise(0).alias(STREAK),
        pl.col(TRIGGERS).fill_null(pl.lit([], dtype=pl.List(pl.String))),
    )
    return out.with_columns(_status(index).alias(STATUS)).drop("proposed", "prev_streak")


def _previous(previous: pl.DataFrame | None) -> pl.DataFrame:
    schema = {ENTITY: pl.String, "prev_tier": pl.String, "prev_streak": pl.Int64}
    if previous is None or previous.height == 0:
        return pl.DataFrame(schema=schema)
    listed = previous.filter(pl.col(TIER).is_not_null())
    return listed.select(ENTITY, pl.col(TIER).alias("prev_tier"), pl.col(STREAK).cast(pl.Int64).alias("prev_streak"))


def _status(index: dict[str, int]) -> pl.Expr:
    new_i = pl.col(TIER).replace_strict(index, default=len(index), return_dtype=pl.Int32)
    old_i = pl.col("prev_tier").replace_strict(index, default=len(index), return_dtype=pl.Int32)
    return (
        pl.when(pl.col(TIER).is_null())
        .then(pl.lit("dropped"))
        .when(pl.col("prev_tier").is_null())
        .then(pl.lit("new"))
        .when(new_i < old_i)
        .then(pl.lit("escalated"))
        .when(new_i > old_i)
        .then(pl.lit("de-escalated"))
        .otherwise(pl.lit("persisting"))
    )


def build_warning_list(
    scored: pl.DataFrame,
    policy: WarningPolicy,
    *,
    area: str | None,
    previous: pl.DataFrame | None = None,
    under_disposition: Collection[str] = (),
) -> pl.DataFrame:
    """The published list: every qualifying entity plus dropped ones, with tier, status and push flag."""
    current = current_tiers(scored, policy, area)
    listed = apply_cooldown(current, previous, set(scored[ENTITY].to_list()), policy)
    labels = {t.name: t.label_zh for t in policy.tiers}
    disposed = pl.col(ENTITY).is_in(list(under_disposition))
    listed = listed.with_columns(
        pl.col(TIER).replace_strict(labels, default=None, return_dtype=pl.String).alias("tier_zh"),
        pl.col(STATUS).replace_strict(STATUS_LABELS, return_dtype=pl.String).alias("status_zh"),
        disposed.alias("under_disposition"),
        (pl.col(STATUS).is_in(["new", "escalated"]) & ~disposed).alias("push"),
    )
    details = scored.drop(ENTITY, strict=False).columns
    return (
        listed.join(scored, on=ENTITY, how="left")
        .sort(
            pl.col(TIER).replace_strict(_tier_index(policy), default=99, return_dtype=pl.Int32), RANK, nulls_last=True
        )
        .select(
            ENTITY,
            TIER,
            "tier_zh",
            STATUS,
            "status_zh",
            MODEL_TIER,
            TRIGGERS,
            "push",
            "under_disposition",
            STREAK,
            *[c for c in details if c not in (TIER,)],
        )
    )


def list_summary(warnings: pl.DataFrame) -> dict[str, Any]:
    listed = warnings.filter(pl.col(TIER).is_not_null())
    return {
        "listed": listed.height,
        "by_tier": dict(listed.group_by(TIER).len().iter_rows()),
        "by_status": dict(warnings.group_by(STATUS).len().iter_rows()),
        "trigger_only": listed.filter(pl.col(MODEL_TIER).is_null()).height,
        "to_push": int(warnings["push"].sum()),
    }
