"""`riskgen train`, `riskgen models`, `riskgen promote`: training, the registry and the champion."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Literal

import click

from pipelines import settings
from pipelines.commands.params import ISO_DATE, resolve_theme
from pipelines.console import console, say
from pipelines.tables import open_validated_tables
from pipelines.versioning import code_version, current_user
from risk_models.spec import ThematicModelSpec


@click.command()
@click.argument("spec", metavar="THEME", callback=resolve_theme)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Delivered or validated tables (default: the theme's synthetic world in the workspace).",
)
@click.option(
    "--cutoff",
    type=ISO_DATE,
    default="2026-06-30",
    show_default=True,
    help="Knowledge cutoff: rows recorded later are not used.",
)
@click.option("--register/--no-register", default=True, show_default=True, help="Register the model in MLflow.")
def train(spec: ThematicModelSpec, data_dir: Path | None, cutoff: date, register: bool) -> None:
    """Train THEME on monthly snapshots (out-of-time split), evaluate against baselines, register the model."""
    version = train_and_register(spec, data_dir, cutoff, register)
    if version is not None:
        console.print(
            f"registered [bold]{spec.registered_model_name}[/] version {version}; "
            f"promote it with `riskgen promote {spec.name} {version}`"
        )


def train_and_register(spec: ThematicModelSpec, data_dir: Path | None, cutoff: date, register: bool) -> int | None:
    """Train a theme from its tables (generating its synthetic world when none is given) and register it."""
    from risk_models.train_theme import train_theme

    world = data_dir or settings.synthetic_data_dir(spec.name)
    with tempfile.TemporaryDirectory(prefix="riskgen-train-") as work:
        store = open_validated_tables(spec, world if world.exists() else None, cutoff, Path(work))
        hazard = world / "true_hazard.parquet"
        out = settings.training_dir(spec.name, cutoff)
        result = train_theme(spec, store, cutoff, out / "report", hazard if hazard.exists() else None, progress=say)
        console.print(f"evaluation report: {result.report['markdown']}")
        if not register:
            return None
        from model_registry.registry import Registry

        registry = Registry.open(settings.registry_uri(), create=True)
        info = registry.register(
            result, input_sha256=store.input_sha256(), code_version=code_version(), registered_by=current_user()
        )
        return int(info.version)


@click.group()
def models() -> None:
    """Registered model versions of a theme."""


@models.command("list")
@click.argument("spec", metavar="THEME", callback=resolve_theme)
def models_list(spec: ThematicModelSpec) -> None:
    """Versions of THEME's model with their test precision at the budget; the champion is marked."""
    from rich.table import Table

    from model_registry.registry import Registry

    registry = Registry.open(settings.registry_uri())
    table = Table(title=f"{spec.registered_model_name} — {spec.title_zh}")
    for header in ("version", "champion", "created", "precision@budget", "AUC", "spec", "registered by"):
        table.add_column(header)
    for info in registry.versions(spec.name):
        auc = info.metrics.get("test.model.auc")
        table.add_row(
            str(info.version),
            "★" if info.is_champion else "",
            info.created.strftime("%Y-%m-%d %H:%M"),
            f"{info.precision:.3f}" if info.precision is not None else "-",
            f"{auc:.3f}" if auc is not None else "-",
            info.spec_hash,
            info.tags.get("registered_by", ""),
        )
    console.print(table)


@click.command()
@click.argument("spec", metavar="THEME", callback=resolve_theme)
@click.argument("version", type=int)
@click.option("--why", required=True, help="Why this version should score the next runs (recorded).")
@click.option(
    "--expect-champion",
    type=int,
    default=None,
    help="Refuse unless the current champion is this version (compare-and-set).",
)
@click.option("--force", is_flag=True, help="Promote even if its test precision is below the champion's.")
def promote(spec: ThematicModelSpec, version: int, why: str, expect_champion: int | None, force: bool) -> None:
    """Make VERSION the champion of THEME (refuses a worse version unless --force; records who and why)."""
    from model_registry.errors import RegistryError
    from model_registry.registry import Registry

    registry = Registry.open(settings.registry_uri())
    expected: int | Literal["any"] = "any" if expect_champion is None else expect_champion
    try:
        record = registry.promote(
            spec.name, version, who=current_user(), why=why, expected_champion=expected, force=force
        )
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(
        f"[green]champion[/] of {spec.registered_model_name} is now version {record.version} "
        f"(was {record.previous_champion}); test precision at the budget {_figure(record.candidate_precision)} vs "
        f"{record.champion_precision}"
    )


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
