"""`riskgen audit`: reproduce a published run and check it against its manifest."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from pipelines.console import console


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
