"""`riskgen demo`: the main job end to end on embedded defaults."""

from __future__ import annotations

import sys
from datetime import date

import click

from pipelines import settings
from pipelines.commands.data import run_validation
from pipelines.console import console


@click.command()
@click.option("--enterprises", default=20_000, show_default=True, help="Size of the synthetic world.")
@click.option("--seed", default=7, show_default=True)
def demo(enterprises: int, seed: int) -> None:
    """The main job end to end on embedded defaults: synthetic world → validation (more stages join later)."""
    from features.synthetic import generate_world

    data_dir = settings.synthetic_data_dir()
    end = date(2026, 6, 30)
    console.rule("1/2 generate the synthetic world")
    generate_world(data_dir, n_enterprises=enterprises, end=end, seed=seed, progress=True)
    console.rule("2/2 validate the delivery")
    result = run_validation(data_dir, end, None, None, None, (), True)
    if not result.ok:
        sys.exit(1)
    console.print(f"\nworkspace: {settings.workspace()}")
