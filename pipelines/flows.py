"""Prefect flows: `score_theme` (one theme, one business date) and `nightly` (every theme with a champion).

The flows orchestrate and report; exactly-once does not rest on Prefect (its transaction lock outlives a SIGKILL and
a killed flow run stays `Running`), but on `pipelines.nightly`: kernel lock, ledger, staging, atomic publish and
keyed upserts. Stage tasks keep no cache and persist no result: feature frames are not Prefect results.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from pipelines import settings
from pipelines.nightly import RunOutcome, RunRequest, run_theme
from risk_models.themes import SHIPPED_THEMES, load_theme

NIGHTLY_CRON = "0 2 * * *"  # 02:00 Asia/Shanghai, after the day's feeds have landed


def as_task(stage: Any, *args: Any) -> Any:
    """Run a pipeline stage as a Prefect task named after it (no caching, no result persistence)."""
    runner = task(stage, name=stage.__name__.removeprefix("stage_"), cache_policy=NO_CACHE, persist_result=False)
    return runner(*args)


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
    theme: str, as_of: date | None = None, data_dir: str | None = None, dossier_top: int = 200
) -> dict[str, Any]:
    """Validate, score, explain, list, write dossiers, publish and push one theme for one business date."""
    logger = get_run_logger()
    business_date = as_of or settings.business_date()
    spec = load_theme(theme)
    model = champion_or_none(spec.name)
    if model is None:
        raise RuntimeError(f"theme {theme} has no champion model: train and promote one first")
    folder = Path(data_dir) if data_dir else settings.synthetic_data_dir(spec.name)
    disposed = tuple(entities_under_disposition(spec.name))
    outcome = run_theme(
        RunRequest(
            spec, business_date, folder, model, dossier_top=dossier_top, under_disposition=disposed, call=as_task
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
    as_of: date | None = None, themes: list[str] | None = None, data_dirs: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Score every theme that has a champion, for the Asia/Shanghai business date."""
    logger = get_run_logger()
    business_date = as_of or settings.business_date()
    results = []
    for theme in themes or list(SHIPPED_THEMES):
        if not has_champion(theme):
            logger.warning("skipping %s: no champion model", theme)
            continue
        results.append(score_theme(theme, business_date, (data_dirs or {}).get(theme)))
    return results
