"""`riskgen audit`: reproduce a published run and check it against its manifest."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

from pipelines.commands.params import ISO_DATE, resolve_theme
from pipelines.console import console
from risk_models.spec import ThematicModelSpec


@click.group()
def audit() -> None:
    """Auditors' tools: reproduce published scores exactly."""


@audit.command("reproduce")
@click.option(
    "--run",
    "run_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A published run folder (runs/<theme>/<date>).",
)
@click.option("--entity", "entities", multiple=True, help="Only this entity (repeatable; default: the listed ones).")
@click.option("--sample", type=float, default=None, help="A random share of the cohort instead (e.g. 0.01).")
def reproduce(run_dir: Path, entities: tuple[str, ...], sample: float | None) -> None:
    """Recompute features, scores and contributions from the stored inputs and model; exit 1 on any mismatch."""
    from pipelines.audit import reproduce_run

    with console.status(f"reproducing {run_dir}"):
        report = reproduce_run(run_dir, list(entities) or None, sample)
    console.print_json(json.dumps(report.to_dict(), ensure_ascii=False))
    state = "[green]reproduced exactly[/]" if report.ok else "[red]MISMATCH[/]"
    console.print(f"{state}: {report.entities} entities, mismatches {report.mismatches}")
    if not report.ok:
        sys.exit(1)


@click.command()
@click.argument("spec", metavar="THEME", callback=resolve_theme)
@click.argument("entity")
@click.option("--as-of", type=ISO_DATE, required=True, help="Business date of the score.")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Delivered tables (default: the theme's synthetic world) when no run was published that day.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder for the waterfall plot.",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def explain(spec: ThematicModelSpec, entity: str, as_of: date, data_dir: Path | None, out_dir: Path, lang: str) -> None:
    """Why ENTITY scores as it does for THEME: probability, tier, reasons, and a waterfall plot."""
    from pipelines import settings
    from pipelines.explain_entity import explain_entity
    from pipelines.flows import champion_or_none

    model = champion_or_none(spec.name)
    if model is None:
        raise click.ClickException(f"{spec.name} has no champion model: train and promote one first")
    try:
        result = explain_entity(spec, model, entity, as_of, data_dir or settings.synthetic_data_dir(spec.name), out_dir)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(
        f"{spec.title_zh} · {entity} · {as_of}: probability {result.probability:.1%}, rank {result.rank} "
        f"of {result.cohort}, tier {result.tier or '-'} ({result.source})",
        markup=False,
    )
    for i, reason in enumerate(result.reasons, 1):
        console.print(f"  {i}. {reason['text_zh'] if lang == 'zh' else reason['text_en']}", markup=False)
    console.print(f"waterfall: {result.waterfall_png}", markup=False)
