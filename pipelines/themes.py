"""Theme lookup for the CLI until thematic model specs exist: a theme name maps to its feature blocks."""

from __future__ import annotations

import click

from features.blocks.base import FeatureBlock


def theme_blocks(theme: str) -> tuple[FeatureBlock, ...]:
    from features.blocks.prepaid import PREPAID_FEATURE_SET

    feature_sets = {"prepaid_cards": PREPAID_FEATURE_SET}
    if theme not in feature_sets:
        raise click.BadParameter(f"unknown theme {theme!r}; known: {sorted(feature_sets)}", param_hint="--theme")
    return feature_sets[theme]
