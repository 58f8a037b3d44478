"""The nightly scoring of one theme for one business date, exactly once.

validate (blocking gate) → features as of the date → score → warning list → explain → exports → dossiers →
publish (one rename, manifest inside) → push (keyed upserts). Each stage is a small function of library code; the
Prefect flows in `pipelines.flows` call them as tasks. Safety does not depend on Prefect: a kernel lock per
(theme, date), our own ledger, a private staging folder and an idempotent push make a killed run harmless and a
rerun of a finished date a no-op.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from features.atomic import write_parquet_atomic, write_text_atomic
from features.store import TableStore, known_at
from pipelines import settings
from pipelines.exports import write_exports
from pipelines.ledger import Ledger
from pipelines.locks import lock_path, run_lock
from pipelines.runs import MANIFEST, RunAlreadyPublished, RunPaths, publish, read_manifest, start_staging
from pipelines.scale_out import ScaleOut, remove_work
from pipelines.tables import validated_folder
from pipelines.versioning import code_version
from risk_models.scoring import cohort_features, score_frame
from risk_models.spec import ThematicModelSpec
from risk_models.warning_list import build_warning_list, list_summary

FAULT_ENV = "RISKGEN_FAULT_AT"  # test hook: SIGKILL ourselves when this stage starts (RELIABILITY R1)


@dataclass
class RunContext:
    """What the stages of one run share."""

    spec: ThematicModelSpec
    as_of: date
    staging: Path
    store: TableStore
    model: Any  # model_registry.LoadedModel
    timings: dict[str, float] = field(default_factory=dict)
    explained: Any = None  # risk_models.explain.Contributions of the listed entities, set by the explain stage
    peer_groups: list[str] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if os.environ.get(FAULT_ENV) == name:
            os.kill(os.getpid(), signal.SIGKILL)
        started = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - started, 3)


@dataclass(frozen=True)
class RunOutcome:
    theme: str
    as_of: date
    run_dir: Path
    published: bool
    pushed: int
    summary: dict[str, Any]


def stage_features(ctx: RunContext) -> pl.DataFrame:
    with ctx.stage("features"):
        features = cohort_features(ctx.spec, ctx.store, ctx.as_of)
        write_parquet_atomic(features, ctx.staging / "features.parquet")
    return features


def stage_score(ctx: RunContext, features: pl.DataFrame) -> pl.DataFrame:
    with ctx.stage("score"):
        scored = score_frame(ctx.model.scorer, features)
        columns = ["entity_id", "as_of", "raw_score", "probability", "rank"]
        write_parquet_atomic(scored.select(columns), ctx.staging / "scores.parquet")
    return scored


def stage_list(
    ctx: RunContext, scored: pl.DataFrame, previous: pl.DataFrame | None, under_disposition: list[str]
) -> pl.DataFrame:
    with ctx.stage("list"):
        area = f"entity__{ctx.spec.entity.area_column}" if ctx.spec.entity.area_column else None
        return build_warning_list(
            scored, ctx.spec.policy, area=area, previous=previous, under_disposition=under_disposition
        )


def stage_explain(
    ctx: RunContext, scored: pl.DataFrame, warnings: pl.DataFrame, sharded: Callable[[], Any] | None = None
) -> pl.DataFrame:
    """Contributions for every listed entity, stored with the base value, and reasons added to the list.

    `sharded` computes the contributions on the shards instead (a scaled-out run); None means here.
    """
    from pipelines.explaining import explain_listed

    with ctx.stage("explain"):
        return explain_listed(ctx, scored, warnings, sharded() if sharded else None)


def stage_outputs(ctx: RunContext, warnings: pl.DataFrame) -> dict[str, Any]:
    with ctx.stage("outputs"):
        write_parquet_atomic(warnings, ctx.staging / "warnings.parquet")
        write_exports(warnings, ctx.staging)
        summary = list_summary(warnings)
        write_text_atomic(summary_markdown(ctx, warnings, summary), ctx.staging / "summary.md")
    return summary


def stage_dossiers(ctx: RunContext, warnings: pl.DataFrame, top: int) -> int:
    from pipelines.dossiers import write_run_dossiers

    with ctx.stage("dossiers"):
        return write_run_dossiers(ctx, warnings, top)


def summary_markdown(ctx: RunContext, warnings: pl.DataFrame, summary: dict[str, Any]) -> str:
    listed = warnings.filter(pl.col("tier").is_not_null())
    lines = [
        f"# {ctx.spec.title_zh} {ctx.as_of} — {ctx.spec.title_en}",
        "",
        f"- 预警 listed: **{summary['listed']}** (budget {ctx.spec.policy.budget_per_run}); "
        f"rule-only: {summary['trigger_only']}; to push: {summary['to_push']}",
        f"- 等级 by tier: {dict(sorted(summary['by_tier'].items()))}",
        f"- 状态 by status: {dict(sorted(summary['by_status'].items()))}",
        f"- model {ctx.spec.registered_model_name} v{ctx.model.version.version}, spec {ctx.spec.spec_hash()}",
        "",
        "| # | 等级 | 状态 | 名称 | 镇街 | 概率 |",
        "|---|---|---|---|---|---|",
    ]
    for row in listed.head(20).iter_rows(named=True):
        lines.append(
            f"| {row['rank']} | {row['tier_zh']} | {row['status_zh']} | {row.get('entity__name', '')} | "
            f"{row.get('entity__town', '')} | {row['probability']:.1%} |"
        )
    return "\n".join(lines) + "\n"


def previous_warnings(paths: RunPaths, as_of: date) -> pl.DataFrame | None:
    folder = paths.previous(as_of)
    return pl.read_parquet(folder / "warnings.parquet") if folder else None


StageCall = Callable[..., Any]


def call_directly(stage: Callable[..., Any], *args: Any) -> Any:
    return stage(*args)


@dataclass(frozen=True)
class RunRequest:
    """One theme and business date to score, with the champion model and how to run each stage.

    `call(stage, *args)` runs a stage; the Prefect flow passes one that runs it as a task. With `scale_out`, features,
    scores and contributions are computed by shard of entities (`pipelines.scale_out`), with the same outputs.
    """

    spec: ThematicModelSpec
    as_of: date
    data_dir: Path
    model: Any  # model_registry.LoadedModel
    dossier_top: int = 200
    under_disposition: tuple[str, ...] = ()
    call: StageCall = call_directly
    scale_out: ScaleOut | None = None


class SpecMismatch(RuntimeError):
    """The champion was trained from another declaration of the theme than the one in the code now."""


def check_champion_spec(spec: ThematicModelSpec, model: Any) -> None:
    """Refuse to score with a champion whose spec hash differs: its features would silently mean something else."""
    if model.version.spec_hash != spec.spec_hash():
        raise SpecMismatch(
            f"the champion of {spec.name} (version {model.version.version}) was trained with spec "
            f"{model.version.spec_hash}, the theme is now {spec.spec_hash()}: retrain it (`riskgen train {spec.name}`) "
            "and promote the new version"
        )


def run_theme(request: RunRequest) -> RunOutcome:
    """Score one theme for one date, publish its run folder once, and push its warnings."""
    spec, as_of = request.spec, request.as_of
    paths = RunPaths(settings.workspace() / "runs", spec.name)
    ledger = Ledger(settings.workspace() / "state" / "ledger.db")
    with run_lock(lock_path(settings.workspace() / "locks", spec.name, as_of), wait_seconds=3600):
        # Before the published check: an attempt killed after its rename (before `finish`) is dead too.
        ledger.mark_crashed(spec.name, as_of)
        if paths.published(as_of):
            return _push_existing(spec, as_of, paths)
        check_champion_spec(spec, request.model)
        run_id = f"{spec.name}-{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"
        ledger.start(run_id, spec.name, as_of)
        staging = start_staging(paths, as_of)
        try:
            final = publish(staging, paths, as_of, _run_stages(request, staging, paths, run_id))
        except RunAlreadyPublished:
            shutil.rmtree(staging, ignore_errors=True)
            ledger.finish(run_id, "noop", "published meanwhile")
            return _push_existing(spec, as_of, paths)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            ledger.finish(run_id, "failed", repr(exc)[:500])
            raise
        ledger.finish(run_id, "finished")
        # Inside the lock: a run waiting for this date pushes only after this push committed (it then pushes nothing).
        pushed = request.call(push_published, spec, as_of, final)
    return RunOutcome(spec.name, as_of, final, True, pushed, read_manifest(final)["summary"])


def _run_stages(request: RunRequest, staging: Path, paths: RunPaths, run_id: str) -> dict[str, Any]:
    spec, as_of, call = request.spec, request.as_of, request.call
    started = time.perf_counter()
    accepted = validated_folder(request.data_dir, as_of)
    store = known_at(TableStore.from_folder(accepted, list(spec.tables)), as_of)
    ctx = RunContext(spec, as_of, staging, store, request.model, {"validate": round(time.perf_counter() - started, 3)})
    scale = request.scale_out
    if scale is None:
        features = call(stage_features, ctx)
        scored = call(stage_score, ctx, features)
    else:  # the shard rounds are tasks of their own (on the flow's task runner), not nested in a stage task
        from pipelines.scale_out import shard_jobs, sharded_contributions, sharded_features_and_scores

        jobs = shard_jobs(ctx, scale, accepted)
        features, scored = sharded_features_and_scores(ctx, scale, jobs)
    warnings = call(stage_list, ctx, scored, previous_warnings(paths, as_of), list(request.under_disposition))
    if scale is None:
        warnings = call(stage_explain, ctx, scored, warnings)
    else:
        listed = warnings
        warnings = stage_explain(ctx, scored, warnings, lambda: sharded_contributions(ctx, scale, jobs, scored, listed))
        remove_work(ctx)
    summary = call(stage_outputs, ctx, warnings)
    summary["dossiers"] = call(stage_dossiers, ctx, warnings, request.dossier_top)
    with ctx.stage("publish"):
        pass  # the boundary just before the rename, for the fault hook
    model = request.model
    return {
        "run_id": run_id,
        "theme": spec.name,
        "as_of": as_of.isoformat(),
        "code_version": code_version(),
        "spec_hash": spec.spec_hash(),
        "model": {
            "name": spec.registered_model_name,
            "version": str(model.version.version),
            "sha256": model.scorer.sha256,
        },
        "inputs": store.input_files(),
        "counts": {"cohort": features.height, "listed": summary["listed"]},
        "summary": summary,
        "timings": ctx.timings,
        "scale_out": {"shards": scale.shards, "where": scale.where} if scale else None,
    }


def _push_existing(spec: ThematicModelSpec, as_of: date, paths: RunPaths) -> RunOutcome:
    final = paths.final(as_of)
    pushed = push_published(spec, as_of, final)
    return RunOutcome(spec.name, as_of, final, False, pushed, read_manifest(final)["summary"])


def push_published(spec: ThematicModelSpec, as_of: date, run_dir: Path) -> int:
    """Upsert a published run's listed warnings into the review database (a no-op when already pushed)."""
    from features.loading import file_sha256
    from review.db import connect, push_run

    warnings = pl.read_parquet(run_dir / "warnings.parquet").filter(pl.col("tier").is_not_null())
    manifest = read_manifest(run_dir)
    rows = [
        {
            "entity_id": r["entity_id"],
            "entity_name": r.get(f"entity__{spec.entity.name_column}") if spec.entity.name_column else None,
            "area": r.get(f"entity__{spec.entity.area_column}") if spec.entity.area_column else None,
            "entity_group": r.get(f"entity__{spec.entity.group_column}") if spec.entity.group_column else None,
            "tier": r["tier"],
            "status": r["status"],
            "probability": r["probability"],
            "rank": r["rank"],
            "triggers": r["triggers"],
            "reasons": r.get("reasons") or [],
            "under_disposition": r["under_disposition"],
            "run_dir": str(run_dir),
            "model_version": manifest["model"]["version"],
        }
        for r in warnings.iter_rows(named=True)
    ]
    engine = connect(settings.review_db_url())
    return push_run(engine, spec.name, as_of, file_sha256(run_dir / MANIFEST), rows)
