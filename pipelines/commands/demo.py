"""`riskgen demo`: the main job end to end on embedded defaults.

Synthetic worlds → validation → training of every shipped theme → promotion → the nightly Prefect flow for the last
business date → the top of each warning list and where the lists and dossiers are.
"""

from __future__ import annotations

from datetime import date

import click
import polars as pl

from pipelines import settings
from pipelines.commands.models import train_and_register
from pipelines.console import console
from pipelines.tables import generate_theme_world
from pipelines.versioning import current_user
from risk_models.themes import SHIPPED_THEMES, load_theme

DEMO_DATE = date(2026, 6, 30)  # the synthetic worlds end here


@click.command()
@click.option("--theme", "themes", multiple=True, help="Only these themes (default: every shipped theme).")
@click.option("--seed", default=7, show_default=True, help="Seed of the synthetic worlds.")
def demo(themes: tuple[str, ...], seed: int) -> None:
    """Generate, validate, train, promote, run the nightly flow and show the warning lists."""
    from model_registry.registry import Registry
    from pipelines.flows import nightly

    names = list(themes) or list(SHIPPED_THEMES)
    for step, name in enumerate(names, 1):
        spec = load_theme(name)
        console.rule(f"{step}/{len(names)} {spec.title_zh} · {spec.title_en}")
        world = generate_theme_world(spec, settings.synthetic_data_dir(spec.name), seed=seed)
        version = train_and_register(spec, world, DEMO_DATE, register=True)
        record = Registry.open(settings.registry_uri()).promote(
            spec.name, int(version or 0), who=current_user(), why="riskgen demo: latest model on the synthetic world"
        )
        console.print(f"champion of {spec.registered_model_name}: version {record.version}")
    console.rule(f"nightly flow for {DEMO_DATE}")
    results = nightly(as_of=DEMO_DATE, themes=names)
    for result in results:
        _show_list(result)
    console.print(f"\nworkspace: {settings.workspace()}")


def _show_list(result: dict[str, object]) -> None:
    from pathlib import Path

    run_dir = Path(str(result["run_dir"]))
    warnings = pl.read_parquet(run_dir / "warnings.parquet").filter(pl.col("tier").is_not_null())
    columns = [
        c
        for c in ("rank", "tier_zh", "status_zh", "entity_id", "entity__name", "entity__town", "probability")
        if c in warnings.columns
    ]
    console.rule(f"{result['theme']}: {warnings.height} warnings")
    with pl.Config(tbl_rows=10, tbl_width_chars=140, fmt_str_lengths=30, tbl_hide_dataframe_shape=True):
        console.print(str(warnings.select(columns).head(10)), markup=False, highlight=False)
    dossiers = sorted((run_dir / "dossiers").glob("*.html")) if (run_dir / "dossiers").exists() else []
    console.print(f"list: {run_dir / 'warnings.xlsx'}  summary: {run_dir / 'summary.md'}")
    if dossiers:
        console.print(f"dossiers: {len(dossiers)} in {run_dir / 'dossiers'} (e.g. {dossiers[0].name})")
