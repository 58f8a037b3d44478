"""The `riskgen` command line: noun → verb subcommands, each with --help."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from features.dataset_validation import DatasetValidation, validate_dataset
from features.errors import BlockingFailure
from pipelines import settings
from pipelines.console import console, print_catalogue, print_validation
from pipelines.themes import theme_blocks


class IsoDate(click.ParamType):
    """A date written as 2026-06-30."""

    name = "date"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date like 2026-06-30", param, ctx)


ISO_DATE = IsoDate()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="riskgen")
def main() -> None:
    """riskgen: build, run and audit thematic risk models (预付卡消费预警 and more)."""


@main.group()
def data() -> None:
    """Synthetic data and the validation of delivered tables."""


@data.command("generate")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the Parquet tables (default: $RISKGEN_HOME/data/synthetic).",
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
    help="Delivery folder (default: $RISKGEN_HOME/data/synthetic).",
)
@click.option("--as-of", type=ISO_DATE, default=None, help="Delivery date (default: today, Asia/Shanghai).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where accepted rows, quarantine and reports go (default: $RISKGEN_HOME/validated/<as-of>).",
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
    target = out_dir or settings.validated_dir(as_of)
    with console.status(f"validating {data_dir} as of {as_of}"):
        try:
            result = validate_dataset(
                data_dir,
                target,
                as_of=as_of,
                tables=tables,
                uscc_allowlist=codes,
                history_dir=settings.delivery_history_dir(),
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


@main.group()
def features() -> None:
    """The feature-block catalogue and point-in-time feature frames."""


@features.command("list")
@click.option("--theme", default=None, help="Only the blocks of this theme.")
def features_list(theme: str | None) -> None:
    """The catalogue: block, column, label, description and owner."""
    from features.blocks.base import registered_blocks

    blocks = list(theme_blocks(theme)) if theme else sorted(registered_blocks().values(), key=lambda b: b.name)
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

    blocks = theme_blocks(theme)
    tables = sorted({t for b in blocks for t in b.tables} | {"enterprises"})
    started = time.perf_counter()
    with console.status(f"building {len(blocks)} blocks for {len(as_of)} as-of date(s)"):
        frame = build_feature_frame(blocks, TableStore.from_folder(data_dir, tables), as_of)
    write_parquet_atomic(frame, out_file)
    console.print(
        f"[green]wrote[/] {out_file}: {frame.height:,} rows × {frame.width - 2} features "
        f"in {time.perf_counter() - started:.1f} s"
    )


@main.command()
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


if __name__ == "__main__":
    main()
