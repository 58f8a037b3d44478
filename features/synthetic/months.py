"""The monthly grid of the synthetic world and small vectorised sampling helpers.

Dates are handled as int64 day numbers since 1970-01-01 (the Arrow/Parquet `date32` encoding), so that every date
computation is a numpy array operation and conversion to `pl.Date` is a cast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

# Lunar New Year (春节) by year: card sales and visits dip in that month, and closures cluster just after it.
SPRING_FESTIVAL: dict[int, date] = {
    2015: date(2015, 2, 19), 2016: date(2016, 2, 8), 2017: date(2017, 1, 28), 2018: date(2018, 2, 16),
    2019: date(2019, 2, 5), 2020: date(2020, 1, 25), 2021: date(2021, 2, 12), 2022: date(2022, 2, 1),
    2023: date(2023, 1, 22), 2024: date(2024, 2, 10), 2025: date(2025, 1, 29), 2026: date(2026, 2, 17),
    2027: date(2027, 2, 6), 2028: date(2028, 1, 26), 2029: date(2029, 2, 13), 2030: date(2030, 2, 3),
    2031: date(2031, 1, 23), 2032: date(2032, 2, 11), 2033: date(2033, 1, 31), 2034: date(2034, 2, 19),
    2035: date(2035, 2, 8),
}  # fmt: skip


def to_days(day: date) -> int:
    """Day number since 1970-01-01 of a date."""
    return day.toordinal() - EPOCH_ORDINAL


def from_days(days: int) -> date:
    """Date of a day number since 1970-01-01."""
    return date.fromordinal(int(days) + EPOCH_ORDINAL)


@dataclass(frozen=True)
class MonthGrid:
    """Calendar months covering [start, end], clipped to the window at both ends.

    Attributes:
        start_day, end_day: window bounds as day numbers (inclusive).
        first: first day of each calendar month (the `month` key of true_hazard).
        last: last day of each calendar month.
        lo, hi: the part of each month inside the window (inclusive).
        year, month: calendar year and month (1-12) of each month.
        spring_festival: the month holds the Lunar New Year.
    """

    start_day: int
    end_day: int
    first: np.ndarray
    last: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    year: np.ndarray
    month: np.ndarray
    spring_festival: np.ndarray

    @property
    def n(self) -> int:
        return len(self.first)

    @property
    def days(self) -> np.ndarray:
        """Number of window days in each month."""
        return self.hi - self.lo + 1


def month_grid(start: date, end: date) -> MonthGrid:
    """Build the monthly grid of the window [start, end].

    Args:
        start: first day of the window.
        end: last day of the window (the as-of date of the world: nothing is known after it).

    Returns:
        The grid; raises ValueError when end precedes start.
    """
    if end < start:
        raise ValueError(f"end {end} precedes start {start}")
    months = np.arange(np.datetime64(start, "M"), np.datetime64(end, "M") + 1)
    first = months.astype("datetime64[D]").astype(np.int64)
    last = (months + 1).astype("datetime64[D]").astype(np.int64) - 1
    start_day, end_day = to_days(start), to_days(end)
    year = months.astype(np.int64) // 12 + 1970
    month = months.astype(np.int64) % 12 + 1
    festival = np.array([to_days(SPRING_FESTIVAL.get(int(y), date(int(y), 2, 1))) for y in year])
    return MonthGrid(
        start_day=start_day,
        end_day=end_day,
        first=first,
        last=last,
        lo=np.maximum(first, start_day),
        hi=np.minimum(last, end_day),
        year=year,
        month=month,
        spring_festival=(festival >= first) & (festival <= last),
    )


def uniform_days(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """One uniform day in [lo, hi] (inclusive) per element; lo > hi yields lo."""
    span = np.maximum(hi - lo + 1, 1)
    return lo + np.floor(rng.random(len(lo)) * span).astype(np.int64)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function (float64)."""
    return 1.0 / (1.0 + np.exp(-x))


def poisson_days(
    rng: np.random.Generator, rate: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scatter Poisson events over cells and collapse them to one row per active day.

    Each cell (a firm-month) gets Poisson(rate) events, each on a uniform day of [lo, hi]; events on the same day are
    merged, so a day is active with probability 1 - exp(-rate / days), exactly a daily Bernoulli process, and the
    number of events on an active day is its count. Cells must span at most 62 days.

    Args:
        rng: random generator.
        rate: expected events per cell.
        lo, hi: inclusive day range of each cell (cells with hi < lo get no events).

    Returns:
        (cell index, day, event count) per active day, sorted by cell then day.
    """
    rate = np.where(hi >= lo, rate, 0.0)
    counts = rng.poisson(np.maximum(rate, 0.0))
    cell = np.repeat(np.arange(len(rate), dtype=np.int64), counts)
    offset = uniform_days(rng, np.zeros(len(cell), np.int64), (hi - lo)[cell])
    keys, n = np.unique(cell * 64 + offset, return_counts=True)
    cell = keys // 64
    return cell, lo[cell] + keys % 64, n.astype(np.int64)


def categorical(rng: np.random.Generator, cum_probs: np.ndarray) -> np.ndarray:
    """Draw one category per row from row-wise cumulative probabilities (shape rows x categories)."""
    u = rng.random((cum_probs.shape[0], 1))
    return np.minimum((u > cum_probs).sum(axis=1), cum_probs.shape[1] - 1)
