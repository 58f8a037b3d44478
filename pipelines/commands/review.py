"""`riskgen review serve` and `riskgen users add`: the review web app for staff and auditors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from pipelines import settings
from pipelines.console import console

if TYPE_CHECKING:
    from review.config import ReviewConfig

ROLES = ("reviewer", "supervisor", "auditor", "data_scientist", "admin")


def review_config(cookie_secure: bool) -> ReviewConfig:
    from review.config import ReviewConfig

    return ReviewConfig(
        db_url=settings.review_db_url(),
        runs_dir=settings.workspace() / "runs",
        secret_key=settings.review_secret_key(),
        attachments_dir=settings.workspace() / "review" / "attachments",
        cookie_secure=cookie_secure,
    )


@click.group()
def review() -> None:
    """The review web app (warning lists, dossiers, dispositions, KPIs, audit log)."""


@review.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--insecure-http", is_flag=True, help="Allow session cookies over plain http (local use only).")
def review_serve(host: str, port: int, insecure_http: bool) -> None:
    """Serve the review app with uvicorn (behind a TLS proxy in production)."""
    import uvicorn

    from review.app import create_app

    app = create_app(review_config(cookie_secure=not insecure_http))
    console.print(f"review app on http://{host}:{port} (database {settings.review_db_url()})")
    uvicorn.run(app, host=host, port=port, log_level="info")


@click.group()
def users() -> None:
    """Accounts of the review app."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--town", "towns", multiple=True, help="A town/street a reviewer may see (repeatable).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def users_add(username: str, role: str, towns: tuple[str, ...], password: str) -> None:
    """Create an account (reviewers need at least one --town)."""
    from review.audit import AuditLog
    from review.db import connect
    from review.users import UserError, add_user

    engine = connect(settings.review_db_url())
    try:
        user = add_user(
            engine, username, password, role, towns, audit=AuditLog(engine, settings.review_secret_key()), actor="cli"
        )
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"added {user.username} ({user.role}{', ' + ', '.join(user.towns) if user.towns else ''})")
