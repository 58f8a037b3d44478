"""Firm profiles: industry, sector, town and grid cell, registration date, size and prepaid filing.

Profiles are the static part of the latent model: sector sets the distress prior and card prices, registered capital
and customer base set size (large firms are safer but draw more complaints), age sets the start-up hazard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.reference import INDUSTRIES, SECTORS, TOWNS
from features.synthetic.months import MonthGrid

INDUSTRY_CODES: tuple[str, ...] = tuple(INDUSTRIES)
# Relative number of firms per industry among Xiaoshan consumer-service firms (catering and beauty dominate).
INDUSTRY_WEIGHTS: dict[str, float] = {
    "8391": 3, "8392": 2, "8393": 5, "8399": 3, "8310": 2, "8930": 5, "8040": 14, "8051": 2, "8052": 4,
    "8060": 5, "6210": 14, "6220": 10, "6241": 3, "8111": 6, "8514": 1.5, "5261": 6, "5292": 8, "8021": 3,
}  # fmt: skip
TOWN_WEIGHTS: tuple[float, ...] = (9, 8, 7, 7, 8, 6, 4, 7, 3, 2, 2, 4, 3, 3, 1.5, 1.5, 2, 2, 2)
N_GRID_CELLS = 2035
BIRTH_SHARE = 0.25  # share of firms registered inside the window (they have no events before registration)


@dataclass(frozen=True)
class SectorParams:
    """Per-sector parameters: distress prior, prepaid filing rate, card price, sole-trader share, card members."""

    prior: float
    prepaid: float
    ticket: float
    individual: float
    members: float
    pro_closer: float


# Education, fitness and beauty carry the highest priors, as in every regulator's sector list.
SECTOR_PARAMS: dict[str, SectorParams] = {
    "bath_massage": SectorParams(0.25, 0.60, 1500, 0.45, 50, 0.30),
    "beauty": SectorParams(0.30, 0.60, 1500, 0.50, 60, 0.35),
    "car_wash": SectorParams(0.00, 0.45, 800, 0.50, 50, 0.15),
    "catering": SectorParams(0.10, 0.15, 500, 0.50, 60, 0.15),
    "early_education": SectorParams(0.35, 0.75, 8000, 0.05, 40, 0.45),
    "education_training": SectorParams(0.40, 0.75, 5000, 0.10, 60, 0.45),
    "elderly_care": SectorParams(0.00, 0.40, 3000, 0.05, 30, 0.20),
    "fitness": SectorParams(0.45, 0.80, 2500, 0.10, 80, 0.40),
    "laundry": SectorParams(-0.15, 0.40, 400, 0.50, 40, 0.10),
    "retail": SectorParams(-0.20, 0.15, 500, 0.35, 60, 0.10),
}
SECTOR_INDEX = {s: i for i, s in enumerate(SECTORS)}
INDUSTRY_SECTOR = np.array([SECTOR_INDEX[INDUSTRIES[c][0]] for c in INDUSTRY_CODES])


def sector_array(field: str) -> np.ndarray:
    """One float per sector (in SECTORS order) of a SectorParams field."""
    return np.array([getattr(SECTOR_PARAMS[s], field) for s in SECTORS], dtype=np.float64)


def grid_cells_per_town() -> np.ndarray:
    """Split the 2,035 grid cells over the 19 towns in proportion to size (largest remainder, deterministic)."""
    weights = np.array(TOWN_WEIGHTS) / sum(TOWN_WEIGHTS)
    raw = weights * N_GRID_CELLS
    cells = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - cells), kind="stable")
    cells[order[: N_GRID_CELLS - cells.sum()]] += 1
    return cells


@dataclass(frozen=True)
class Firms:
    """Static attributes of one chunk of firms (arrays of equal length).

    Attributes:
        gidx: global firm number (0..n_enterprises-1), the key of the credit-code bijection.
        industry, sector, town: indexes into INDUSTRY_CODES, SECTORS and TOWNS.
        grid: cell number (1-based) inside the town.
        etype: entity type 0 company (91), 1 sole trader (92), 2 cooperative (93).
        reg_day: registration day number.
        capital: registered capital in yuan; size_z: its standardised log (the size effect).
        members: prepaid card members (customer base); ticket: typical card price in yuan.
        prepaid: filed as a prepaid-card issuer.
    """

    gidx: np.ndarray
    industry: np.ndarray
    sector: np.ndarray
    town: np.ndarray
    grid: np.ndarray
    etype: np.ndarray
    reg_day: np.ndarray
    capital: np.ndarray
    size_z: np.ndarray
    members: np.ndarray
    ticket: np.ndarray
    prepaid: np.ndarray

    def __len__(self) -> int:
        return len(self.gidx)


def sample_firms(rng: np.random.Generator, gidx: np.ndarray, grid: MonthGrid) -> Firms:
    """Draw static profiles for the firms numbered `gidx`.

    Args:
        rng: the chunk's random generator.
        gidx: global firm numbers of the chunk.
        grid: the monthly window (births fall inside it).

    Returns:
        The chunk's firm profiles.
    """
    n = len(gidx)
    weights = np.array([INDUSTRY_WEIGHTS[c] for c in INDUSTRY_CODES], dtype=np.float64)
    industry = rng.choice(len(INDUSTRY_CODES), size=n, p=weights / weights.sum())
    sector = INDUSTRY_SECTOR[industry]
    town = rng.choice(len(TOWNS), size=n, p=np.array(TOWN_WEIGHTS) / sum(TOWN_WEIGHTS))
    cells = grid_cells_per_town()[town]
    cell = 1 + np.floor(rng.random(n) ** 1.3 * cells).astype(np.int64)  # busy cells host more shops
    etype = np.where(rng.random(n) < sector_array("individual")[sector], 1, 0)
    etype = np.where((sector == SECTOR_INDEX["retail"]) & (rng.random(n) < 0.02), 2, etype)
    capital, size_z = _capital(rng, etype)
    members = np.exp(np.log(sector_array("members")[sector]) + 0.35 * size_z + rng.normal(0, 0.75, n))
    ticket = sector_array("ticket")[sector] * np.exp(rng.normal(0, 0.35, n) + 0.1 * size_z)
    p_filing = sector_array("prepaid")[sector] * np.where(etype == 1, 0.8, 1.05) * (1 + 0.12 * size_z)
    return Firms(
        gidx=gidx.astype(np.int64),
        industry=industry,
        sector=sector,
        town=town,
        grid=np.minimum(cell, cells),
        etype=etype,
        reg_day=_registration_days(rng, n, grid),
        capital=capital,
        size_z=size_z,
        members=members,
        ticket=np.round(ticket, -1),
        prepaid=rng.random(n) < np.clip(p_filing, 0.02, 0.95),
    )


def _capital(rng: np.random.Generator, etype: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Registered capital (companies ~500k, sole traders ~50k yuan) and its standardised log."""
    z = rng.normal(0, 1, len(etype))
    median = np.select([etype == 0, etype == 1], [5e5, 5e4], 1e6)
    sd = np.where(etype == 1, 0.8, 1.0)
    step = np.where(etype == 1, 1e3, 1e4)
    capital = np.maximum(np.round(median * np.exp(sd * z) / step) * step, step)
    return capital, z


def _registration_days(rng: np.random.Generator, n: int, grid: MonthGrid) -> np.ndarray:
    """Registration days: most firms predate the window (age ~ exponential, mean 4.5 years), some are born in it."""
    age_years = np.minimum(rng.exponential(4.5, n) + 0.05, 25.0)
    before = grid.start_day - np.round(age_years * 365.25).astype(np.int64)
    # Births stop 30 days before the end so that every registration has reached the registry by `end`.
    born = grid.start_day + np.floor(rng.random(n) * max(grid.end_day - 30 - grid.start_day, 1)).astype(np.int64)
    return np.where(rng.random(n) < BIRTH_SHARE, born, before)
