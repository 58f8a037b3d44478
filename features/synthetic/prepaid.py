"""Prepaid-card flows of filing firms: daily transactions and month-end escrow balances.

Monthly expected flows come first: card sales and recharges scale with the customer base and seasonality (Spring
Festival dip, summer peak for education, spring for fitness), ordinary anniversary promotions (a confounder), and in
exit mode a promotion spike for "promoter" firms; redemptions burn the outstanding liability and collapse in exit
mode; refunds are rare. The expected liability follows from these flows. Daily rows are then drawn as Poisson events
per firm-month and collapsed to one row per active day and kind. The escrow balance is a firm-specific share of the
liability that is drawn down in exit mode (balance falling well below the outstanding prepaid liability).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from features.reference import SECTORS, TRANSACTION_KINDS
from features.synthetic.chunk import Chunk, lag_days
from features.synthetic.months import poisson_days
from features.synthetic.writer import contract_frame

KIND_NAMES: tuple[str, ...] = tuple(TRANSACTION_KINDS)  # sale, recharge, redemption, refund
SALE_RATE, RECHARGE_RATE = 0.0105, 0.0095  # cards sold / recharges per card member and month
UNIT = np.array([1.0, 0.6, 0.5, 0.5])  # amount of one operation in card prices (ticket)
BURN = 0.09  # share of the outstanding liability redeemed per month in normal times
REFUND_RATE = 0.0008
DISTRESS_FLOOR = 0.5  # distress below this level leaves no trace in the flows


@dataclass(frozen=True)
class Flows:
    """Expected monthly flows of the chunk's filing firms (firms x months).

    Attributes:
        firm: chunk-local index of each filing firm.
        ops: expected operations per kind (kinds x firms x months).
        liability: expected outstanding prepaid liability at month end.
    """

    firm: np.ndarray
    ops: np.ndarray
    liability: np.ndarray


def _sales_season(chunk: Chunk, firm: np.ndarray) -> np.ndarray:
    """Card sales seasonality (firms x months)."""
    grid, sector = chunk.grid, chunk.firms.sector[firm]
    before_festival = np.roll(grid.spring_festival, -1)
    season = np.tile(np.where(grid.spring_festival, 0.7, 1.0), (len(firm), 1))
    beauty = np.isin(sector, (SECTORS.index("beauty"), SECTORS.index("bath_massage")))
    season[beauty] *= np.where(before_festival, 1.2, 1.0)
    education = np.isin(sector, (SECTORS.index("education_training"), SECTORS.index("early_education")))
    season[education] *= np.select([grid.month == 7, grid.month == 8, grid.month == 9], [1.6, 1.3, 1.2], 1.0)
    season[sector == SECTORS.index("fitness")] *= np.where(np.isin(grid.month, (3, 4, 5)), 1.2, 1.0)
    return season


def _promotions(rng: np.random.Generator, chunk: Chunk, firm: np.ndarray) -> np.ndarray:
    """Sales multiplier from promotions: ordinary anniversary sales and the pre-closure spike of promoters."""
    lat, grid = chunk.latent, chunk.grid
    reg_month = chunk.firms.reg_day[firm].astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1
    anniversary = (reg_month[:, None] == grid.month[None, :]) & (rng.random((len(firm), grid.n)) < 0.2)
    mult = np.where(anniversary, rng.uniform(1.5, 2.5, (len(firm), grid.n)), 1.0)
    spike_len = rng.integers(1, 4, len(firm))
    tenure = lat.tenure[firm]
    spike = lat.promoter[firm, None] & (tenure >= 0) & (tenure < spike_len[:, None])
    return np.where(spike, rng.uniform(2.5, 5.0, (len(firm), grid.n)), mult)


def monthly_flows(rng: np.random.Generator, chunk: Chunk) -> Flows:
    """Expected monthly operations per kind and the liability they imply, for the chunk's filing firms."""
    firms, lat, grid = chunk.firms, chunk.latent, chunk.grid
    firm = np.flatnonzero(firms.prepaid)
    lo, hi = chunk.cell_bounds()
    days = np.maximum(hi[firm] - lo[firm] + 1, 0) / 30.4  # share of the month the firm operated
    distress = np.maximum(lat.distress[firm] - DISTRESS_FLOOR, 0.0)
    exiting, tenure = lat.exiting[firm], lat.tenure[firm]
    members = firms.members[firm, None]
    inflow = _sales_season(chunk, firm) * _promotions(rng, chunk, firm) * np.exp(-0.4 * distress)
    inflow *= np.where(exiting, 0.6, 1.0) * days
    sale, recharge = SALE_RATE * members * inflow, RECHARGE_RATE * members * inflow
    service = np.exp(-0.4 * distress) * np.where(exiting, 0.55 ** (tenure + 1.0), 1.0)
    service *= np.where(grid.spring_festival, 0.75, 1.0)[None, :]
    cash_in = sale * UNIT[0] + recharge * UNIT[1]  # in card prices
    steady = (SALE_RATE * UNIT[0] + RECHARGE_RATE * UNIT[1]) * members[:, 0] / BURN
    level = np.where(firms.reg_day[firm] < grid.start_day, steady, 0.0)
    redemption, refund, liability = (np.zeros_like(sale) for _ in range(3))
    refund_mult = (1 + 0.5 * distress) * np.where(exiting, 0.5, 1.0)
    for m in range(grid.n):  # the liability recursion is sequential in time, vectorised over firms
        redemption[:, m] = BURN * level * service[:, m] * days[:, m] / UNIT[2]
        refund[:, m] = REFUND_RATE * level * refund_mult[:, m] * days[:, m] / UNIT[3]
        level = np.maximum(level + cash_in[:, m] - redemption[:, m] * UNIT[2] - refund[:, m] * UNIT[3], 0.0)
        liability[:, m] = level
    ops = np.stack([sale, recharge, redemption, refund])
    return Flows(firm=firm, ops=ops, liability=liability * firms.ticket[firm, None])


def transactions(rng: np.random.Generator, chunk: Chunk, flows: Flows) -> pl.DataFrame:
    """Daily prepaid transactions: one row per firm, active day and kind, reported 1-3 days later.

    Returns:
        Rows recorded by the window end, sorted by firm, day and kind.
    """
    lo, hi = (b[flows.firm].ravel() for b in chunk.cell_bounds())
    n_months = chunk.grid.n
    parts = []
    for k in range(len(KIND_NAMES)):
        cell, days, ops = poisson_days(rng, flows.ops[k].ravel(), lo, hi)
        firms = flows.firm[cell // n_months]
        noise = np.exp(rng.normal(0.0, 0.25, len(cell)))
        parts.append(
            (firms, days, np.full(len(cell), k), np.round(ops * UNIT[k] * chunk.firms.ticket[firms] * noise, 2), ops)
        )
    firm, day, kind, amount, count = (np.concatenate([p[i] for p in parts]) for i in range(5))
    recorded = day + lag_days(rng, len(day), 1, 3, skew=1.0)
    keep = np.flatnonzero(recorded <= chunk.grid.end_day)
    # One int64 sort key (firm, day, kind) sorts far faster than a three-key lexsort.
    key = (firm[keep] * (1 << 20) + (day[keep] - chunk.grid.start_day + (1 << 19))) * 4 + kind[keep]
    sel = keep[np.argsort(key, kind="stable")]
    return contract_frame(
        "prepaid_transactions",
        {
            "uscc": chunk.codes.gather(firm[sel]),
            "txn_date": day[sel],
            "kind": np.array(KIND_NAMES, dtype=object)[kind[sel]],
            "amount": amount[sel],
            "card_count": count[sel],
            "recorded_at": recorded[sel],
        },
    )


def escrow_balances(rng: np.random.Generator, chunk: Chunk, flows: Flows) -> pl.DataFrame:
    """Month-end escrow balances of filing firms, reported by the bank 1-10 days later.

    Coverage (balance / liability) is firm-specific; about one firm in ten barely uses its supervised account (a
    confounder for the coverage rule); in exit mode most firms drain the account within a few months.
    """
    lat, grid = chunk.latent, chunk.grid
    firm = flows.firm
    k = len(firm)
    coverage = np.where(rng.random(k) < 0.1, rng.uniform(0.02, 0.12, k), rng.uniform(0.3, 0.9, k))
    drains = rng.random(k) < 0.8
    tenure = lat.tenure[firm]
    drawdown = np.where(drains[:, None] & (tenure >= 0), 0.45 ** (tenure + 1.0), 1.0)
    distress = np.maximum(lat.distress[firm] - DISTRESS_FLOOR, 0.0)
    noise = np.exp(rng.normal(0.0, 0.1, (k, grid.n)))
    balance = np.round(flows.liability * coverage[:, None] * drawdown * np.exp(-0.8 * distress) * noise, 2)
    month_end = np.broadcast_to(grid.last[None, :], balance.shape)
    # A balance exists for month ends the firm was registered and still open on.
    open_at_end = (month_end >= chunk.firms.reg_day[firm, None]) & (month_end < lat.close_day[firm, None])
    f, m = np.nonzero(open_at_end)
    recorded = grid.last[m] + lag_days(rng, len(f), 1, 10, skew=1.5)
    keep = recorded <= grid.end_day
    f, m = f[keep], m[keep]
    return contract_frame(
        "escrow_balances",
        {
            "uscc": chunk.codes.gather(firm[f]),
            "balance_date": grid.last[m],
            "balance": balance[f, m],
            "recorded_at": recorded[keep],
        },
    )
