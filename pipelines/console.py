"""Terminal output shared by CLI commands."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from features.blocks.base import FeatureBlock
from features.dataset_validation import DatasetValidation

console = Console()


def print_validation(result: DatasetValidation) -> None:
    """Per-table summary: rows, accepted, quarantined by reason, then any blocking failure with its fix."""
    table = Table(title=f"validation as of {result.as_of} — {result.data_dir}")
    for header in ("table", "encoding", "rows", "accepted", "quarantined", "top reasons"):
        table.add_column(header, justify="right" if header in ("rows", "accepted", "quarantined") else "left")
    for summary in result.tables:
        reasons = ", ".join(f"{code} {n:,}" for code, n in list(summary.reasons.items())[:4])
        table.add_row(
            summary.table,
            summary.encoding or "parquet",
            f"{summary.delivered:,}",
            f"{summary.accepted:,}",
            f"{summary.quarantined:,}",
            reasons or "-",
        )
    console.print(table)
    for report in result.gx:
        state = "[green]passed[/]" if report["success"] else "[red]failed[/]"
        console.print(
            f"Great Expectations {report['table']}: {state} "
            f"({report['successful']}/{report['evaluated']}) {report['html_path']}"
        )
    for failure in result.blocking:
        console.print(f"[red]blocked:[/] {failure.message}")
    console.print(f"report: {result.out_dir / 'validation_report.json'}")


def print_catalogue(blocks: list[FeatureBlock]) -> None:
    """One line per feature column: block, column, Chinese and English label, owner."""
    table = Table(title="feature catalogue")
    for header in ("block", "column", "标签", "label", "owner"):
        table.add_column(header)
    for block in blocks:
        for column in block.columns:
            table.add_row(block.name, column.name, column.label_zh, column.label_en, block.owner)
    console.print(table)
    console.print(f"{len(blocks)} blocks, {sum(len(b.columns) for b in blocks)} columns")


def say(message: str) -> None:
    """Progress line printed as-is (no rich markup: theme names in brackets are text, not styles)."""
    console.print(message, markup=False, highlight=False)
