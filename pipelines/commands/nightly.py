"""`riskgen nightly`, `riskgen backfill`, `riskgen serve`: the scheduled scoring."""

from __future__ import annotations

from datetime import date, timedelta

import click

from pipelines.commands.params import ISO_DATE
from pipelines.console import console


@click.command()
@click.option("--as-of", type=ISO_DATE, default=None, help="Business date (default: today in Asia/Shanghai).")
@click.option("--theme", "themes", multiple=True, help="Only this theme (repeatable; default: every champion).")
@click.option(
    "--dask-address",
    default=None,
    metavar="tcp://HOST:8786",
    help="Shard the scoring on this running dask.distributed scheduler (see README: multi-machine Dask cluster).",
)
@click.option(
    "--dask-workers",
    type=click.IntRange(min=1),
    default=None,
    help="Shard the scoring on a local Dask cluster of this many worker processes, started for the run.",
)
@click.option(
    "--shards",
    type=click.IntRange(min=1),
    default=None,
    help="Number of entity shards (default: one per Dask worker; without Dask: shard in this process).",
)
def nightly(
    as_of: date | None, themes: tuple[str, ...], dask_address: str | None, dask_workers: int | None, shards: int | None
) -> None:
    """Score every theme with a champion for the business date; publish lists and dossiers; push warnings.

    Results are bitwise the same with or without Dask and whatever the shard count.
    """
    from pipelines.flows import nightly as nightly_flow

    if dask_address and dask_workers:
        raise click.UsageError("give --dask-address or --dask-workers, not both")
    results = nightly_flow(
        as_of=as_of,
        themes=list(themes) or None,
        dask_address=dask_address,
        dask_workers=dask_workers or 0,
        shards=shards or 0,
    )
    for result in results:
        state = "published" if result["published"] else "already published"
        console.print(
            f"{result['theme']} {result['as_of']}: {state}, {result['listed']} listed, "
            f"{result['pushed']} pushed → {result['run_dir']}"
        )


@click.command()
@click.option("--from", "first", type=ISO_DATE, required=True, help="First business date.")
@click.option("--to", "last", type=ISO_DATE, required=True, help="Last business date.")
@click.option("--theme", "themes", multiple=True, help="Only this theme (repeatable).")
def backfill(first: date, last: date, themes: tuple[str, ...]) -> None:
    """Run the nightly scoring for every date from --from to --to (finished dates are no-ops)."""
    from pipelines.flows import nightly as nightly_flow

    day = first
    while day <= last:
        results = nightly_flow(as_of=day, themes=list(themes) or None)
        console.print(f"{day}: " + ", ".join(f"{r['theme']} {r['listed']} listed" for r in results))
        day += timedelta(days=1)


@click.command()
def serve() -> None:
    """Serve the nightly flow on a schedule: 02:00 Asia/Shanghai every day (Ctrl-C to stop)."""
    from prefect.schedules import Cron

    from pipelines.flows import NIGHTLY_CRON
    from pipelines.flows import nightly as nightly_flow

    console.print(f"serving riskgen-nightly at '{NIGHTLY_CRON}' Asia/Shanghai")
    nightly_flow.serve(name="riskgen-nightly", schedules=[Cron(NIGHTLY_CRON, timezone="Asia/Shanghai")])
