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
    """The top ten of a published list, and where the list, summary and dossiers are."""
    from pathlib import Path

    from rich.table import Table

    run_dir = Path(str(result["run_dir"]))
    warnings = pl.read_parquet(run_dir / "warnings.parquet").filter(pl.col("tier").is_not_null())
    table = Table(title=f"{result['theme']} {result['as_of']}: {warnings.height} warnings (top 10)")
    for header in ("#", "等级", "状态", "名称 name", "镇街", "概率", "首要原因 first reason"):
        table.add_column(header, overflow="fold")
    for row in warnings.head(10).iter_rows(named=True):
        reasons = row.get("reasons") or []
        table.add_row(
            str(row["rank"]),
            row["tier_zh"],
            row["status_zh"],
            str(row.get("entity__name") or row["entity_id"]),
            str(row.get("entity__town") or ""),
            f"{row['probability']:.0%}",
            reasons[0]["text_zh"] if reasons else "",
        )
    console.print(table)
    console.print(f"list: {run_dir / 'warnings.xlsx'}\nsummary: {run_dir / 'summary.md'}", markup=False)
    dossiers = sorted((run_dir / "dossiers").glob("*.html")) if (run_dir / "dossiers").exists() else []
    if dossiers:
        console.print(f"dossiers: {len(dossiers)} in {run_dir / 'dossiers'}", markup=False)
