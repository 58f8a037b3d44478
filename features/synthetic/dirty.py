"""Dirty rows for realism, injected into complaints and prepaid transactions only.

A share `rate` of rows is damaged in one of the ways real feeds are (the validator must quarantine them): an exact
duplicate sent twice, a negative amount, an absurd amount (a unit or keying error above 1e8 yuan), an unknown
category or kind, or a recorded date before the event date. Damaged rows are drawn after the clean world, so they
never touch the latent process, true hazards or closures. Separately, a similar share of complaint rows prints the
credit code cosmetically (lower case, a full-width digit, spaces), which normalisation repairs.
"""

from __future__ import annotations

import numpy as np
import polars as pl

DUPLICATE, NEGATIVE, ABSURD, UNKNOWN, EARLY = range(5)
FULL_WIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}


def inject_dirty(
    rng: np.random.Generator, frame: pl.DataFrame, rate: float, *, category: str, event: str, unknown: str
) -> pl.DataFrame:
    """Damage a share `rate` of rows in place and append exact duplicates right after their originals.

    Args:
        rng: random generator.
        frame: a clean complaints or prepaid_transactions chunk.
        rate: share of rows damaged (0 disables).
        category: the categorical column (`category` or `kind`).
        event: the event-date column.
        unknown: a value outside the allowed categories.

    Returns:
        The frame with damaged rows; its row count grows by the number of duplicates.
    """
    h = frame.height
    if rate <= 0 or h == 0:
        return frame
    damage = np.where(rng.random(h) < rate, rng.integers(0, 5, h), -1)
    d = pl.Series("_d", damage)
    early = pl.Series("_early", rng.integers(1, 16, h)).cast(pl.Duration("ms")) * 86_400_000
    size = pl.Series("_size", rng.uniform(1.0, 9.0, h))
    frame = frame.with_columns(
        pl.when(d == NEGATIVE)
        .then(-(pl.col("amount").fill_null(0.0).abs() + size * 100))
        .when(d == ABSURD)
        .then(size * 1e8)
        .otherwise(pl.col("amount"))
        .alias("amount"),
        pl.when(d == UNKNOWN).then(pl.lit(unknown)).otherwise(pl.col(category)).alias(category),
        pl.when(d == EARLY)
        .then((pl.col(event).cast(pl.Datetime("ms")) - early).cast(pl.Date))
        .otherwise(pl.col("recorded_at"))
        .alias("recorded_at"),
    )
    return frame[np.repeat(np.arange(h), np.where(damage == DUPLICATE, 2, 1))]


def cosmetic_codes(rng: np.random.Generator, frame: pl.DataFrame, rate: float) -> pl.DataFrame:
    """Print the credit code of a share `rate` of rows cosmetically; NFKC + strip + upper restores it."""
    h = frame.height
    rows = np.flatnonzero(rng.random(h) < rate)
    if len(rows) == 0:
        return frame
    styles = rng.integers(0, 3, len(rows))
    codes = frame["uscc"].gather(rows).to_list()
    # Few rows, so a Python loop over them is cheap.
    changed = [_cosmetic(code, int(style)) for code, style in zip(codes, styles, strict=True)]
    return frame.with_columns(frame["uscc"].scatter(rows, changed))


def _cosmetic(code: str, style: int) -> str:
    """One cosmetic variant of a code: lower case, one full-width digit, or spaces (ASCII or ideographic)."""
    if style == 0 and code.lower() != code:
        return code.lower()
    if style == 1:
        pos = next(i for i, c in enumerate(code) if c.isdigit())
        return code[:pos] + FULL_WIDTH[code[pos]] + code[pos + 1 :]
    return f" {code[:6]} {code[6:]}\u3000"
