"""Scale-out of the nightly run: features, scores and contributions computed per shard of entities, exactly.

Three rounds of shard work, each a function of a `ShardJob` (paths and strings only, so a worker on another machine
reads the validated Parquet files itself from shared storage and loads the theme and the model from text):

1. `shard_dependencies`: the outputs of the blocks that cross-entity blocks build on (see `features.sharding`);
2. the driver runs the cross-entity blocks (peer medians) over every entity, then `shard_scores`: the shard's feature
   frame, with those blocks precomputed, and its raw scores and probabilities;
3. after the list is built from every score, `shard_contributions`: TreeSHAP of the shard's listed entities.

The driver concatenates the shards, sorts by entity (the single-process order) and ranks over every row, so every
output is bitwise the single-process one. `ScaleOut.map` runs a round: in this process by default, as Prefect tasks
on a Dask cluster in `pipelines.flows`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from features.asof import ENTITY, AsOf
from features.atomic import write_parquet_atomic
from features.sharding import dependency_blocks, dependency_outputs, global_outputs, precomputed_blocks, shard_store
from features.store import TableStore, known_at
from risk_models.explain import Contributions, contributions
from risk_models.scorer import Scorer
from risk_models.scoring import PROBABILITY, RAW, cohort_features, rank_scores, score_rows
from risk_models.spec import ThematicModelSpec

if TYPE_CHECKING:
    from pipelines.nightly import RunContext

WORK_DIR = ".shards"  # inside the run's staging folder; removed before publishing

ShardMap = Callable[[Callable[..., Any], Sequence[tuple[Any, ...]]], list[Any]]


def map_in_process(function: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Run the shard calls one after another in this process (the default `ScaleOut.map`)."""
    return [function(*args) for args in calls]


@dataclass(frozen=True)
class ScaleOut:
    """How to shard a run: the shard count, the theme as workers load it (name or path), and how to run a round."""

    shards: int
    theme: str
    map: ShardMap = map_in_process
    where: str = "in process"  # recorded in the manifest: the Dask scheduler, or "in process"

    def __post_init__(self) -> None:
        if self.shards < 1:
            raise ValueError(f"a sharded run needs at least one shard, got {self.shards}")


@dataclass(frozen=True)
class ShardJob:
    """One shard's share of a run, as plain values a worker anywhere can act on."""

    theme: str
    spec_hash: str
    as_of: date
    accepted: str  # the validated `accepted/` folder
    work: str  # the shared folder the shards write to
    shard: int
    shards: int
    model_text: str
    model_metadata: dict[str, Any]
    num_threads: int = 1

    @property
    def name(self) -> str:
        return f"shard-{self.shard:04d}-of-{self.shards:04d}"

    def dependency_path(self, block: str) -> Path:
        return Path(self.work) / "dependencies" / block / f"{self.name}.parquet"

    @property
    def scored_path(self) -> Path:
        return Path(self.work) / "scored" / f"{self.name}.parquet"


def shard_dependencies(job: ShardJob) -> dict[str, str]:
    """Round 1 on a worker: the shard's outputs of the blocks that cross-entity blocks read, written by block."""
    spec, store = _open(job)
    outputs = dependency_outputs(AsOf(store, (job.as_of,), spec.entity.table), spec.blocks)
    for name, frame in outputs.items():
        write_parquet_atomic(frame, job.dependency_path(name))
    return {name: str(job.dependency_path(name)) for name in outputs}


def shard_scores(job: ShardJob, global_paths: dict[str, str]) -> dict[str, Any]:
    """Round 2 on a worker: the shard's feature frame (cross-entity blocks precomputed) with raw scores."""
    spec, store = _open(job)
    precomputed = {b.name: job.dependency_path(b.name) for b in dependency_blocks(spec.blocks)}
    precomputed |= {name: Path(path) for name, path in global_paths.items()}
    features = cohort_features(spec, store, job.as_of, precomputed_blocks(spec.blocks, precomputed))
    scored = score_rows(_scorer(job), features)
    write_parquet_atomic(scored, job.scored_path)
    return {"path": str(job.scored_path), "rows": scored.height}


def shard_contributions(job: ShardJob, entity_ids: list[str]) -> Contributions:
    """Round 3 on a worker: exact contributions of the shard's listed entities, in the order given."""
    order = pl.DataFrame({ENTITY: entity_ids}, schema={ENTITY: pl.String}).with_row_index("_order")
    rows = pl.read_parquet(job.scored_path).join(order, on=ENTITY, how="inner").sort("_order").drop("_order")
    return contributions(_scorer(job), rows)


def _open(job: ShardJob) -> tuple[ThematicModelSpec, TableStore]:
    from risk_models.themes import load_theme

    spec = load_theme(job.theme)
    if spec.spec_hash() != job.spec_hash:
        raise RuntimeError(
            f"theme {job.theme} on this worker has spec {spec.spec_hash()}, the run uses {job.spec_hash}: "
            "every machine of the cluster needs the same riskgen code and theme files"
        )
    store = known_at(TableStore.from_folder(Path(job.accepted), list(spec.tables)), job.as_of)
    return spec, shard_store(store, spec.entity.table, job.shard, job.shards)


def _scorer(job: ShardJob) -> Scorer:
    return Scorer.from_parts(job.model_text, job.model_metadata, job.num_threads)  # sha256 checked on load


def shard_jobs(ctx: RunContext, scale: ScaleOut, accepted: Path) -> list[ShardJob]:
    scorer = ctx.model.scorer
    work = ctx.staging / WORK_DIR
    return [
        ShardJob(
            scale.theme,
            ctx.spec.spec_hash(),
            ctx.as_of,
            str(accepted),
            str(work),
            shard,
            scale.shards,
            scorer.model_text,
            scorer.metadata(),
            scorer.num_threads,
        )
        for shard in range(scale.shards)
    ]


def sharded_features_and_scores(
    ctx: RunContext, scale: ScaleOut, jobs: list[ShardJob]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rounds 1 and 2 and the global pass; writes features.parquet and scores.parquet like the single-process run.

    Returns the feature frame and the scored frame (sorted by rank), equal to `stage_features` and `stage_score`'s.
    """
    with ctx.stage("features"):
        written = scale.map(shard_dependencies, [(job,) for job in jobs])
        gathered = {
            b.name: pl.concat([pl.read_parquet(paths[b.name]) for paths in written])
            for b in dependency_blocks(ctx.spec.blocks)
        }
        global_paths = {}
        for name, frame in global_outputs(ctx.spec.blocks, gathered).items():
            path = ctx.staging / WORK_DIR / "global" / f"{name}.parquet"
            write_parquet_atomic(frame, path)
            global_paths[name] = str(path)
        del gathered
        parts = scale.map(shard_scores, [(job, global_paths) for job in jobs])
        # Entity order is the single-process order (the cohort is sorted by entity); `rechunk` makes one contiguous
        # frame, so the Parquet files are written exactly as from the single build.
        scored = pl.concat([pl.read_parquet(p["path"]) for p in parts]).sort(ENTITY).rechunk()
        features = scored.drop(RAW, PROBABILITY)
        write_parquet_atomic(features, ctx.staging / "features.parquet")
    with ctx.stage("score"):
        ranked = rank_scores(scored)
        columns = [ENTITY, "as_of", RAW, PROBABILITY, "rank"]
        write_parquet_atomic(ranked.select(columns), ctx.staging / "scores.parquet")
    return features, ranked


def sharded_contributions(
    ctx: RunContext, scale: ScaleOut, jobs: list[ShardJob], scored: pl.DataFrame, warnings: pl.DataFrame
) -> Contributions | None:
    """Round 3: contributions of the listed entities by shard, merged in rank order (None when nothing is listed)."""
    from features.sharding import shard_numbers
    from risk_models.scoring import RANK

    listed = set(warnings.filter(pl.col("tier").is_not_null())[ENTITY].to_list())
    ordered = scored.filter(pl.col(ENTITY).is_in(list(listed))).sort(RANK)[ENTITY]
    if ordered.is_empty():
        return None
    shard = shard_numbers(ordered, scale.shards)
    ids = ordered.to_list()
    calls = [(job, [e for e, s in zip(ids, shard, strict=True) if s == job.shard]) for job in jobs]
    calls = [c for c in calls if c[1]]
    parts: list[Contributions] = scale.map(shard_contributions, calls)
    return merge_contributions(parts, ids)


def merge_contributions(parts: Sequence[Contributions], order: Sequence[str]) -> Contributions:
    """One `Contributions` of the parts' rows in the given entity order (every part explains the same model)."""
    first = parts[0]
    if any(p.base_value != first.base_value or p.model_sha256 != first.model_sha256 for p in parts):
        raise ValueError("the shards explained different models")
    entity_ids = [e for p in parts for e in p.entity_ids]
    position = {e: i for i, e in enumerate(entity_ids)}
    take = np.array([position[e] for e in order], dtype=np.int64)
    as_of = [d for p in parts for d in p.as_of]
    return Contributions(
        entity_ids=tuple(order),
        as_of=tuple(as_of[i] for i in take) if as_of else (),
        feature_names=first.feature_names,
        values=np.ascontiguousarray(np.vstack([p.values for p in parts])[take]),
        base_value=first.base_value,
        raw_scores=np.concatenate([p.raw_scores for p in parts])[take],
        max_additivity_error=max(p.max_additivity_error for p in parts),
        method=first.method,
        model_sha256=first.model_sha256,
    )


def remove_work(ctx: RunContext) -> None:
    """The shards' intermediate files are not outputs: gone before the manifest lists the staged files."""
    shutil.rmtree(ctx.staging / WORK_DIR, ignore_errors=True)
