"""Prefect flows: `score_theme` (one theme, one business date) and `nightly` (every theme with a champion).

The flows orchestrate and report; exactly-once does not rest on Prefect (its transaction lock outlives a SIGKILL and
a killed flow run stays `Running`), but on `pipelines.nightly`: kernel lock, ledger, staging, atomic publish and
keyed upserts. Stage tasks keep no cache and persist no result: feature frames are not Prefect results.

Scale-out: with `dask_address` (a running dask.distributed scheduler) or `dask_workers` (a LocalCluster started for
the run), `score_theme` runs on Prefect's `DaskTaskRunner` and its features, scores and contributions are computed
by shard of entities, each shard round a Prefect task on the cluster (`pipelines.scale_out`), with the same outputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date
from pathlib import Path
from typing import Any

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from pipelines import settings
from pipelines.nightly import RunOutcome, RunRequest, run_theme
from pipelines.scale_out import ScaleOut
from risk_models.themes import SHIPPED_THEMES, load_theme

NIGHTLY_CRON = "0 2 * * *"  # 02:00 Asia/Shanghai, after the day's feeds have landed


def as_task(stage: Any, *args: Any) -> Any:
    """Run a pipeline stage as a Prefect task named after it (no caching, no result persistence)."""
    runner = task(stage, name=stage.__name__.removeprefix("stage_"), cache_policy=NO_CACHE, persist_result=False)
    return runner(*args)


def submit_shards(function: Any, calls: Any) -> list[Any]:
    """Run one round of shard calls as Prefect tasks on the flow's task runner (the Dask cluster) and wait for all."""
    runner: Task[..., Any] = task(name=function.__name__, cache_policy=NO_CACHE, persist_result=False)(function)
    futures = [runner.submit(*args) for args in calls]
    return [future.result() for future in futures]


def dask_task_runner(address: str | None = None, workers: int = 0) -> Any:
    """Prefect's Dask task runner: on the scheduler at `address`, or on a LocalCluster of `workers` processes."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    # One thread per worker process: a shard task uses every core through polars and LightGBM already.
    return DaskTaskRunner(
        cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
    )


@contextmanager
def api_for_workers() -> Iterator[None]:
    """Make the Prefect API this process uses the one the Dask workers report task runs to.

    Without PREFECT_API_URL, Prefect starts a temporary API server in each process that needs one: every worker would
    start its own on the same database (locked SQLite). Here the driver's temporary server is started and its URL set
    for this block; the settings travel with each submitted task. On a multi-machine cluster set PREFECT_API_URL to a
    server every machine reaches (README), since the temporary server listens on 127.0.0.1 only.
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED, temporary_settings

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the process's one temporary server (the one its client already uses)
    server.start()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield


def _scale_out(theme: str, shards: int) -> ScaleOut | None:
    """Sharding for this flow run when it runs on a Dask task runner (shards default to one per worker)."""
    from prefect.context import FlowRunContext
    from prefect_dask import DaskTaskRunner

    context = FlowRunContext.get()
    runner = context.task_runner if context else None
    if not isinstance(runner, DaskTaskRunner):
        return ScaleOut(shards, theme) if shards else None
    client = runner.client
    where = str(client.scheduler.address) if client.scheduler is not None else "dask"
    return ScaleOut(shards or max(1, len(client.nthreads())), theme, submit_shards, where)


def champion_or_none(theme: str) -> Any:
    """The verified champion model of a theme, or None when the theme has none yet."""
    from model_registry.errors import ModelNotFound, RegistryNotFound
    from model_registry.registry import Registry

    try:
        return Registry.open(settings.registry_uri()).load(theme, "champion")
    except (ModelNotFound, RegistryNotFound):
        return None


def entities_under_disposition(theme: str) -> list[str]:
    """Entities staff are still researching: marked on the new list, not pushed again as new."""
    from review.db import connect
    from review.outcomes import under_disposition

    return under_disposition(connect(settings.review_db_url()), theme)


def has_champion(theme: str) -> bool:
    from model_registry.errors import RegistryNotFound
    from model_registry.registry import Registry

    try:
        return Registry.open(settings.registry_uri()).champion(theme) is not None
    except RegistryNotFound:
        return False


def _report(outcome: RunOutcome) -> None:
    summary = outcome.summary
    state = "published" if outcome.published else "already published (no-op)"
    create_markdown_artifact(
        key=f"{outcome.theme.replace('_', '-')}-summary",
        markdown=(outcome.run_dir / "summary.md").read_text(encoding="utf-8") + f"\n\nRun {state}; "
        f"pushed {outcome.pushed} rows.\n",
        description=f"{outcome.theme} {outcome.as_of}",
    )
    import polars as pl

    top = pl.read_parquet(outcome.run_dir / "warnings.parquet").filter(pl.col("tier").is_not_null()).head(20)
    columns = [
        c
        for c in ("rank", "tier", "status", "entity_id", "entity__name", "entity__town", "probability")
        if c in top.columns
    ]
    create_table_artifact(
        key=f"{outcome.theme.replace('_', '-')}-top-warnings",
        table=top.select(columns).to_dicts(),
        description=f"top warnings, {outcome.theme} {outcome.as_of} ({summary['listed']} listed)",
    )


@flow(name="riskgen-score-theme", log_prints=True)
def score_theme(
    theme: str, as_of: date | None = None, data_dir: str | None = None, dossier_top: int = 200, shards: int = 0
) -> dict[str, Any]:
    """Validate, score, explain, list, write dossiers, publish and push one theme for one business date.

    On a Dask task runner the work is sharded by entity (`shards`, default one per worker); outside one, `shards`
    > 0 shards it in this process (same outputs either way).
    """
    logger = get_run_logger()
    business_date = as_of or settings.business_date()
    spec = load_theme(theme)
    model = champion_or_none(spec.name)
    if model is None:
        raise RuntimeError(f"theme {theme} has no champion model: train and promote one first")
    folder = Path(data_dir) if data_dir else settings.synthetic_data_dir(spec.name)
    disposed = tuple(entities_under_disposition(spec.name))
    scale = _scale_out(theme, shards)
    with api_for_workers() if scale and scale.map is submit_shards else nullcontext():
        outcome = run_theme(
            RunRequest(
                spec,
                business_date,
                folder,
                model,
                dossier_top=dossier_top,
                under_disposition=disposed,
                call=as_task,
                scale_out=scale,
            )
        )
    logger.info(
        "%s %s: %s, %d listed, %d pushed",
        theme,
        business_date,
        outcome.run_dir,
        outcome.summary["listed"],
        outcome.pushed,
    )
    _report(outcome)
    return {
        "theme": theme,
        "as_of": business_date.isoformat(),
        "run_dir": str(outcome.run_dir),
        "published": outcome.published,
        "pushed": outcome.pushed,
        "listed": outcome.summary["listed"],
    }


@flow(name="riskgen-nightly", log_prints=True)
def nightly(
    as_of: date | None = None,
    themes: list[str] | None = None,
    data_dirs: dict[str, str] | None = None,
    dask_address: str | None = None,
    dask_workers: int = 0,
    shards: int = 0,
) -> list[dict[str, Any]]:
    """Score every theme that has a champion, for the Asia/Shanghai business date.

    With `dask_address` or `dask_workers` each theme is scored sharded on a Dask cluster (see `score_theme`).
    """
    logger = get_run_logger()
    business_date = as_of or settings.business_date()
    if dask_address and dask_workers:
        raise ValueError("give either a Dask scheduler address or a number of local Dask workers, not both")
    score = score_theme
    if dask_address or dask_workers:
        score = score_theme.with_options(task_runner=dask_task_runner(dask_address, dask_workers))
    results = []
    for theme in themes or list(SHIPPED_THEMES):
        if not has_champion(theme):
            logger.warning("skipping %s: no champion model", theme)
            continue
        results.append(score(theme, business_date, (data_dirs or {}).get(theme), shards=shards))
    return results
