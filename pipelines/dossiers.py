"""The dossier stage: 研判档案 pages for the top of the list, from the run's own contributions and reasons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from features.asof import ENTITY
from features.tables import PREPAID_WORLD_TABLES
from pipelines import settings
from pipelines.runs import RunPaths
from risk_models.dossier import write_dossiers

if TYPE_CHECKING:
    from pipelines.nightly import RunContext

HISTORY_RUNS = 12


def write_run_dossiers(ctx: RunContext, warnings: pl.DataFrame, top: int) -> int:
    """Write `dossiers/<entity>.html` for the `top` listed entities; returns how many were written.

    The dossier template reads the prepaid-card tables; other themes get their lists and reasons without pages.
    """
    if not set(PREPAID_WORLD_TABLES) <= set(ctx.spec.tables) or ctx.explained is None:
        return 0
    listed = warnings.filter(pl.col("tier").is_not_null()).sort("rank").head(top)
    ids = listed[ENTITY].to_list()
    pages = write_dossiers(
        ctx.store,
        listed,
        as_of=ctx.as_of,
        reasons={r[ENTITY]: r["reasons"] or [] for r in listed.select(ENTITY, "reasons").iter_rows(named=True)},
        waterfalls=_waterfalls(ctx, ids),
        peers=_peers(ctx, listed),
        histories=_histories(ctx, ids),
        theme_title=ctx.spec.title_zh,
        theme_title_en=ctx.spec.title_en,
        model_version=f"{ctx.spec.registered_model_name} v{ctx.model.version.version}",
        spec_hash=ctx.spec.spec_hash(),
        out_dir=ctx.staging / "dossiers",
    )
    return len(pages)


def _waterfalls(ctx: RunContext, ids: list[str]) -> dict[str, dict[str, Any]]:
    explained = ctx.explained
    index = {e: i for i, e in enumerate(explained.entity_ids)}
    return {
        e: {
            "base": explained.base_value,
            "raw": float(explained.raw_scores[index[e]]),
            "contributions": dict(zip(explained.feature_names, map(float, explained.values[index[e]]), strict=True)),
        }
        for e in ids
        if e in index
    }


def _peers(ctx: RunContext, listed: pl.DataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    """Value and peer median of each feature a reason is about."""
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for row in listed.iter_rows(named=True):
        features = [r["feature"] for r in row["reasons"] or [] if r.get("feature") in row]
        result[row[ENTITY]] = {
            f: {"value": row[f], "median": next((r["peer_median"] for r in row["reasons"] if r["feature"] == f), None)}
            for f in features
        }
    return result


def _histories(ctx: RunContext, ids: list[str]) -> dict[str, list[tuple[Any, float, str | None]]]:
    """Probability and tier of each entity in the last published runs of the theme."""
    paths = RunPaths(settings.workspace() / "runs", ctx.spec.name)
    earlier = [d for d in paths.published_dates() if d < ctx.as_of][-HISTORY_RUNS:]
    history: dict[str, list[tuple[Any, float, str | None]]] = {e: [] for e in ids}
    for day in earlier:
        scores = pl.read_parquet(paths.final(day) / "scores.parquet").filter(pl.col(ENTITY).is_in(ids))
        tiers = pl.read_parquet(paths.final(day) / "warnings.parquet", columns=[ENTITY, "tier"])
        for row in scores.join(tiers, on=ENTITY, how="left").iter_rows(named=True):
            history[row[ENTITY]].append((day, row["probability"], row["tier"]))
    return history
