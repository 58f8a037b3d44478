"""The state of one chunk of firms shared by the table builders."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from features.synthetic.latent import NO_DAY, Latent
from features.synthetic.months import MonthGrid
from features.synthetic.profiles import Firms


@dataclass(frozen=True)
class Chunk:
    """One chunk of the world: profiles, latent state and credit codes.

    Attributes:
        index: chunk number (also part of the chunk's RNG seed).
        grid: the monthly window.
        firms: static profiles.
        latent: the latent monthly state and closure timing.
        codes: credit code per firm (a String series, so `codes.gather(idx)` expands it cheaply to event rows).
    """

    index: int
    grid: MonthGrid
    firms: Firms
    latent: Latent
    codes: pl.Series

    @property
    def n(self) -> int:
        return len(self.firms)

    def alive_from(self) -> np.ndarray:
        """First day each firm is observable: its registration or the window start."""
        return np.maximum(self.firms.reg_day, self.grid.start_day)

    def alive_to(self) -> np.ndarray:
        """Last operating day: the day before closure, or the window end."""
        return np.minimum(self.latent.close_day - 1, self.grid.end_day)

    def cell_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Operating days of every firm-month (firms x months); empty cells have hi < lo."""
        lo = np.maximum(self.grid.lo[None, :], self.alive_from()[:, None])
        hi = np.minimum(self.grid.hi[None, :], self.alive_to()[:, None])
        return lo, hi

    def closed(self) -> np.ndarray:
        """Firms that close inside the window."""
        return self.latent.close_day < NO_DAY


def lag_days(rng: np.random.Generator, n: int, low: int, high: int, skew: float = 2.0) -> np.ndarray:
    """Reporting lags in [low, high] days, skewed towards `low` (most records arrive quickly)."""
    return low + np.floor(rng.random(n) ** skew * (high - low + 1)).astype(np.int64)
