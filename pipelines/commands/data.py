"""`riskgen data`: synthetic worlds and the validation of delivered tables."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from features.dataset_validation import DatasetValidation, validate_dataset
from features.errors import BlockingFailure
from pipelines import settings
from pipelines.commands.params import ISO_DATE
from pipelines.console import console, print_validation


@click.group()
def data() -> None:
    """Synthetic data and the validation of delivered tables."""


@data.command("generate")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the Parquet tables (default: $RISKGEN_HOME/data/prepaid_cards).",
)
@click.option("--enterprises", default=20_000, show_default=True, help="Number of enterprises.")
@click.option("--start", default="2023-01-01", show_default=True, type=ISO_DATE, help="First day.")
@click.option("--end", default="2026-06-30", show_default=True, type=ISO_DATE, help="Last day.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same bytes).")
@click.option(
    "--dirty-rate",
    default=0.002,
    show_default=True,
    help="Share of complaint/transaction rows made invalid on purpose (0 for none).",
)
def data_generate(out_dir: Path | None, enterprises: int, start: date, end: date, seed: int, dirty_rate: float) -> None:
    """Generate the synthetic prepaid-card world (enterprises, complaints, prepaid and escrow feeds, closures)."""
    from features.synthetic import generate_world

    target = out_dir or settings.synthetic_data_dir()
    summary = generate_world(
        target, n_enterprises=enterprises, start=start, end=end, seed=seed, dirty_rate=dirty_rate, progress=True
    )
    console.print(f"[green]wrote[/] {target} in {summary.seconds:.1f} s")
    for table, rows in summary.rows.items():
        console.print(f"  {table:<22} {rows:>12,} rows")


@data.command("validate")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Delivery folder (default: $RISKGEN_HOME/data/prepaid_cards).",
)
@click.option("--as-of", type=ISO_DATE, default=None, help="Delivery date (default: today, Asia/Shanghai).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where accepted rows, quarantine and reports go (default: $RISKGEN_HOME/validated/<as-of>/<source>).",
)
@click.option("--table", "tables", multiple=True, help="A table that must be present (repeatable).")
@click.option(
    "--allowlist",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="File of credit codes accepted despite a failed checksum (one per line).",
)
@click.option("--confirm-volume", multiple=True, help="Accept a low-volume delivery of this table (repeatable).")
@click.option("--gx/--no-gx", default=True, show_default=True, help="Also run the Great Expectations suites.")
def data_validate(
    data_dir: Path | None,
    as_of: date | None,
    out_dir: Path | None,
    tables: tuple[str, ...],
    allowlist: Path | None,
    confirm_volume: tuple[str, ...],
    gx: bool,
) -> None:
    """Validate every delivered table: accept or quarantine each row; exit 1 on a blocking failure."""
    result = run_validation(
        data_dir or settings.synthetic_data_dir(),
        as_of or settings.business_date(),
        out_dir,
        tables or None,
        allowlist,
        confirm_volume,
        gx,
    )
    if not result.ok:
        sys.exit(1)


def run_validation(
    data_dir: Path,
    as_of: date,
    out_dir: Path | None,
    tables: tuple[str, ...] | None,
    allowlist: Path | None,
    confirm_volume: tuple[str, ...],
    gx: bool,
) -> DatasetValidation:
    """Validate a delivery folder and print the per-table summary."""
    codes = _read_allowlist(allowlist) if allowlist else ()
    target = out_dir or settings.validated_dir(as_of, data_dir)
    with console.status(f"validating {data_dir} as of {as_of}"):
        try:
            result = validate_dataset(
                data_dir,
                target,
                as_of=as_of,
                tables=tables,
                uscc_allowlist=codes,
                history_dir=settings.delivery_history_dir(data_dir),
                confirm_volume=confirm_volume,
                run_gx=gx,
            )
        except BlockingFailure as failure:
            console.print(f"[red]blocked:[/] {failure.message}")
            sys.exit(1)
    print_validation(result)
    return result


def _read_allowlist(path: Path) -> tuple[str, ...]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return tuple(line for line in lines if line)
