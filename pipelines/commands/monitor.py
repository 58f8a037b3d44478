"""`riskgen monitor THEME [--from D1 --to D2]`: drift, list sizes, churn and confirmation of a theme's runs."""

from __future__ import annotations

from datetime import date

import click

from pipelines.commands.params import ISO_DATE, resolve_theme
from pipelines.console import console

LEVEL_STYLES = {"red": "bold white on red", "amber": "bold black on yellow"}


@click.command()
@click.argument("theme", metavar="THEME")
@click.option("--from", "first", type=ISO_DATE, default=None, help="First run date (default: 90 days before --to).")
@click.option("--to", "last", type=ISO_DATE, default=None, help="Last run date (default: the latest published run).")
@click.option("--fail-on-red", is_flag=True, help="Exit with status 2 when a red alert is raised (for schedulers).")
def monitor(theme: str, first: date | None, last: date | None, fail_on_red: bool) -> None:
    """Monitor THEME's published runs: PSI against training, tier sizes vs budget, churn, confirmation by tier.

    Prints the alerts and writes report.html, summary.md and monitoring.json under
    $RISKGEN_HOME/monitoring/THEME/FROM_TO/.
    """
    from pipelines.monitor_flow import monitor as monitor_flow

    resolve_theme(None, None, theme)  # an unknown theme is a usage error before Prefect starts
    result = monitor_flow(theme, first, last)
    console.print(f"{result['theme']} {result['from']} – {result['to']}: {result['runs']} runs")
    if not result["alerts"]:
        console.print("无警报 no alerts", style="green")
    for alert in result["alerts"]:
        level = f" {alert['level'].upper()} "
        seen = f" ({alert['runs']} runs)" if alert["runs"] > 1 else ""
        console.print(level, style=LEVEL_STYLES.get(alert["level"], ""), end=" ")
        console.print(
            f"{alert['as_of']} {alert['message_zh']} — {alert['message_en']}{seen}", markup=False, highlight=False
        )
    console.print(f"report: {result['report']}", markup=False, highlight=False)
    if fail_on_red and any(a["level"] == "red" for a in result["alerts"]):
        raise SystemExit(2)
