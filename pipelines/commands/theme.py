"""`riskgen theme`: list, show, scaffold and check thematic model specs."""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import date
from pathlib import Path

import click

from pipelines.commands.params import ISO_DATE, resolve_theme
from pipelines.console import console, say
from pipelines.tables import open_validated_tables
from risk_models.spec import ThematicModelSpec
from risk_models.themes import SHIPPED_THEMES, load_theme


@click.group()
def theme() -> None:
    """Thematic model specs: list, show, scaffold from a template, check."""


@theme.command("list")
def theme_list() -> None:
    """The shipped themes."""
    for name in SHIPPED_THEMES:
        spec = load_theme(name)
        console.print(
            f"{spec.name:<22} {spec.title_zh}  {spec.title_en}  (entity: {spec.entity.label_en}, "
            f"{len(spec.feature_names)} features, label: {spec.label.table} within {spec.label.horizon_days} d)"
        )


@theme.command("show")
@click.argument("spec", metavar="THEME", callback=resolve_theme)
def theme_show(spec: ThematicModelSpec) -> None:
    """The whole declaration of THEME (a name or a path) as JSON, with its hash."""
    console.print_json(json.dumps(spec.to_dict() | {"spec_hash": spec.spec_hash()}, ensure_ascii=False, default=str))


@theme.command("new")
@click.argument("name")
@click.option("--like", default="prepaid_cards", show_default=True, help="Template theme to copy.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("themes"),
    show_default=True,
    help="Folder for the new theme file.",
)
def theme_new(name: str, like: str, directory: Path) -> None:
    """Scaffold a working theme file NAME.py from a template."""
    from risk_models.scaffold import scaffold_theme

    try:
        path = scaffold_theme(name, like, directory)
    except (ValueError, FileExistsError, LookupError) as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"[green]wrote[/] {path}\nnext: edit it, then `riskgen theme check {path}`")


@theme.command("check")
@click.argument("spec", metavar="THEME", callback=resolve_theme)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Tables to train on (default: a small synthetic world generated for the theme).",
)
@click.option("--cutoff", type=ISO_DATE, default="2026-06-30", show_default=True, help="Knowledge cutoff.")
def theme_check(spec: ThematicModelSpec, data_dir: Path | None, cutoff: date) -> None:
    """Train a small model of THEME and report problems in plain words (exit 1 on a problem)."""
    from risk_models.theme_check import check_theme

    with tempfile.TemporaryDirectory(prefix="riskgen-check-") as work:
        store = open_validated_tables(spec, data_dir, cutoff, Path(work), small=True)
        findings = check_theme(spec, store, cutoff, Path(work), progress=say)
    colours = {"ok": "green", "warning": "yellow", "problem": "red"}
    for finding in findings:
        console.print(f"[{colours[finding.level]}]{finding.level:>8}[/] {finding.message}")
    if any(f.level == "problem" for f in findings):
        sys.exit(1)
