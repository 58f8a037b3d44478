"""The abnormal operation list (经营异常名录).

Closed firms, absconders above all, are listed as unreachable at their address shortly after (sometimes just before)
closure and stay listed. Healthy firms are listed too, which is what makes the list a noisy signal: every July many
firms miss the annual-report deadline (30 June) and are removed once they file, and a few are briefly unreachable.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from features.reference import ABNORMAL_REASONS
from features.synthetic.chunk import Chunk, lag_days
from features.synthetic.months import to_days, uniform_days
from features.synthetic.writer import NULL_DAY, contract_frame

REASON_NAMES: tuple[str, ...] = tuple(ABNORMAL_REASONS)
UNREACHABLE, ANNUAL_REPORT, FALSE_INFO, NO_RESPONSE = range(4)

Listing = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # firm, listed day, reason, removed day


def _after_closure(rng: np.random.Generator, chunk: Chunk) -> Listing:
    """Closers found unreachable: most absconders, some quiet closures, no orderly deregistrations."""
    lat = chunk.latent
    p = np.select([lat.close_kind == 0, lat.close_kind == 1], [0.75, 0.4], 0.0)
    firm = np.flatnonzero(rng.random(chunk.n) < p)
    close = lat.close_day[firm]
    early = rng.random(len(firm)) < 0.15  # inspectors sometimes find the shop empty before closure is confirmed
    day = np.where(early, close - rng.integers(0, 31, len(firm)), close + rng.integers(15, 151, len(firm)))
    return firm, day, np.full(len(firm), UNREACHABLE), np.full(len(firm), NULL_DAY)


def _operating_noise(rng: np.random.Generator, chunk: Chunk) -> Listing:
    """Operating firms listed for a while (unreachable, false information, no response), mostly removed later."""
    lo, hi = chunk.cell_bounds()
    distress = np.maximum(chunk.latent.distress, 0.0)
    p = np.where(hi >= lo, 0.0008 * np.exp(0.5 * distress), 0.0)
    firm, m = np.nonzero(rng.random(lo.shape) < p)
    k = len(firm)
    day = uniform_days(rng, lo[firm, m], hi[firm, m])
    reason = np.where(rng.random(k) < 0.7, UNREACHABLE, np.where(rng.random(k) < 0.5, FALSE_INFO, NO_RESPONSE))
    removed = np.where(rng.random(k) < 0.75, day + rng.integers(30, 361, k), NULL_DAY)
    return firm, day, reason, removed


def _annual_reports(rng: np.random.Generator, chunk: Chunk) -> Listing:
    """Missed annual reports, listed in July each year; healthy firms file late and are removed."""
    grid, firms, lat = chunk.grid, chunk.firms, chunk.latent
    parts = []
    for year in range(int(grid.year[0]), int(grid.year[-1]) + 1):
        july = to_days(date(year, 7, 1))
        months = np.flatnonzero((grid.year == year) & (grid.month == 7))
        if july < grid.start_day or july > grid.end_day or len(months) == 0:
            continue
        operating = lat.close_day > july
        p = np.where(operating, 0.03 + 0.12 * lat.exiting[:, months[0]], 0.6)
        firm = np.flatnonzero((firms.reg_day < to_days(date(year, 1, 1))) & (rng.random(chunk.n) < p))
        day = july + lag_days(rng, len(firm), 0, 45, skew=1.0)
        filed = operating[firm] & (rng.random(len(firm)) < 0.75)
        removed = np.where(filed, day + rng.integers(20, 301, len(firm)), NULL_DAY)
        parts.append((firm, day, np.full(len(firm), ANNUAL_REPORT), removed))
    if not parts:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, empty
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(4))  # type: ignore[return-value]


def abnormal_list(rng: np.random.Generator, chunk: Chunk, dereg_day: np.ndarray) -> pl.DataFrame:
    """The abnormal_list table of a chunk as known at the window end.

    Args:
        rng: random generator.
        chunk: the chunk.
        dereg_day: deregistration/revocation day per firm (NULL_DAY if none): nobody is listed after it.

    Returns:
        The frame, sorted by firm and listing day, one row per firm and listing day.
    """
    parts = [_after_closure(rng, chunk), _operating_noise(rng, chunk), _annual_reports(rng, chunk)]
    firm, day, reason, removed = (np.concatenate([np.asarray(p[i], np.int64) for p in parts]) for i in range(4))
    recorded = day + lag_days(rng, len(firm), 0, 5)
    end = chunk.grid.end_day
    keep = (recorded <= end) & (day < dereg_day[firm]) & (day > chunk.firms.reg_day[firm])
    firm, day, reason, removed, recorded = firm[keep], day[keep], reason[keep], removed[keep], recorded[keep]
    # A removal after the window end (or after deregistration) has not happened yet as far as we know.
    removed = np.where((removed <= end) & (removed < dereg_day[firm]), removed, NULL_DAY)
    order = np.lexsort((day, firm))
    firm, day, reason, removed, recorded = firm[order], day[order], reason[order], removed[order], recorded[order]
    first = np.append(True, (firm[1:] != firm[:-1]) | (day[1:] != day[:-1]))
    return contract_frame(
        "abnormal_list",
        {
            "uscc": chunk.codes.gather(firm[first]),
            "listed_at": day[first],
            "removed_at": removed[first],
            "reason": np.array(REASON_NAMES, dtype=object)[reason[first]],
            "recorded_at": recorded[first],
        },
    )
