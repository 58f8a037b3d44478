"""`riskgen features`: the block catalogue and feature frames."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from pipelines.commands.params import ISO_DATE
from pipelines.console import console, print_catalogue
from risk_models.themes import load_theme


@click.group()
def features() -> None:
    """The feature-block catalogue and point-in-time feature frames."""


@features.command("list")
@click.option("--theme", default=None, help="Only the blocks of this theme.")
def features_list(theme: str | None) -> None:
    """The catalogue: block, column, label, description and owner."""
    from features.blocks.base import registered_blocks

    blocks = list(load_theme(theme).blocks) if theme else sorted(registered_blocks().values(), key=lambda b: b.name)
    print_catalogue(blocks)


@features.command("build")
@click.option("--theme", required=True, help="Theme whose blocks to build (e.g. prepaid_cards).")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Folder of validated tables (<table>.parquet).",
)
@click.option("--as-of", "as_of", type=ISO_DATE, multiple=True, required=True, help="As-of date (repeatable).")
@click.option("--out", "out_file", type=click.Path(path_type=Path), required=True, help="Output Parquet file.")
def features_build(theme: str, data_dir: Path, as_of: tuple[date, ...], out_file: Path) -> None:
    """Build a feature frame: one row per (entity, as-of date), columns <block>__<column>."""
    import time

    from features.assembly import build_feature_frame
    from features.atomic import write_parquet_atomic
    from features.store import TableStore

    blocks = load_theme(theme).blocks
    tables = sorted({t for b in blocks for t in b.tables} | {"enterprises"})
    started = time.perf_counter()
    with console.status(f"building {len(blocks)} blocks for {len(as_of)} as-of date(s)"):
        frame = build_feature_frame(blocks, TableStore.from_folder(data_dir, tables), as_of)
    write_parquet_atomic(frame, out_file)
    console.print(
        f"[green]wrote[/] {out_file}: {frame.height:,} rows × {frame.width - 2} features "
        f"in {time.perf_counter() - started:.1f} s"
    )
