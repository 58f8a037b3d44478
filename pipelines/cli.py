"""The `riskgen` command line: noun → verb subcommands, each with --help."""

from __future__ import annotations

import click

from pipelines.commands.audit import audit, explain
from pipelines.commands.data import data
from pipelines.commands.demo import demo
from pipelines.commands.features import features
from pipelines.commands.models import models, promote, train
from pipelines.commands.monitor import monitor
from pipelines.commands.nightly import backfill, nightly, serve
from pipelines.commands.review import review, users
from pipelines.commands.theme import theme


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="riskgen")
def main() -> None:
    """riskgen: build, run and audit thematic risk models (预付卡消费预警 and more)."""


for command in (
    data,
    features,
    theme,
    train,
    models,
    promote,
    nightly,
    backfill,
    serve,
    monitor,
    explain,
    audit,
    review,
    users,
    demo,
):
    main.add_command(command)

if __name__ == "__main__":
    main()
