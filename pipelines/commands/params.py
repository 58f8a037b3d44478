"""Shared click parameter types."""

from __future__ import annotations

from datetime import date

import click


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


def resolve_theme(_ctx: click.Context | None, _param: click.Parameter | None, value: str | None) -> object:
    """Click callback: a theme name or path becomes its spec; an unknown one is a usage error with the choices."""
    from risk_models.themes import ThemeNotFound, load_theme

    if value is None:
        return None
    try:
        return load_theme(value)
    except ThemeNotFound as exc:
        raise click.BadParameter(str(exc)) from exc
