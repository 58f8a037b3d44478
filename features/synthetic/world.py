"""Build every table of one chunk of firms, from profiles through the latent process to observed rows."""

from __future__ import annotations

import numpy as np
import polars as pl

from features.synthetic.abnormal import abnormal_list
from features.synthetic.chunk import Chunk
from features.synthetic.complaints import complaints
from features.synthetic.dirty import cosmetic_codes, inject_dirty
from features.synthetic.latent import simulate_latent
from features.synthetic.months import MonthGrid
from features.synthetic.names import credit_codes
from features.synthetic.prepaid import escrow_balances, monthly_flows, transactions
from features.synthetic.profiles import sample_firms
from features.synthetic.registry import closures, deregistration, enterprises, legal_rep_history
from features.synthetic.writer import TRUE_HAZARD, contract_frame

CHUNK_SIZE = 25_000


def make_chunk(seed: int, index: int, n_enterprises: int, grid: MonthGrid, shocks: np.ndarray) -> Chunk:
    """Profiles, latent state and credit codes of chunk `index` (firms index*CHUNK_SIZE onwards).

    Returns:
        The chunk; the same arguments always give the same chunk.
    """
    rng = np.random.default_rng([seed, index])
    first = index * CHUNK_SIZE
    gidx = np.arange(first, min(first + CHUNK_SIZE, n_enterprises), dtype=np.int64)
    profile_rng, latent_rng = rng.spawn(2)
    firms = sample_firms(profile_rng, gidx, grid)
    latent = simulate_latent(latent_rng, firms, grid, shocks)
    reg_year = firms.reg_day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    codes = pl.Series("uscc", credit_codes(gidx, firms.etype, reg_year, seed), dtype=pl.String)
    return Chunk(index=index, grid=grid, firms=firms, latent=latent, codes=codes)


def build_tables(chunk: Chunk, seed: int, dirty_rate: float) -> dict[str, pl.DataFrame]:
    """All tables of one chunk, keyed by table name (each with its exact file schema).

    Every table draws from its own child stream of the chunk's generator, so changing one table's logic (or the
    dirty rate) leaves the others' rows unchanged.
    """
    registry_rng, abnormal_rng, complaint_rng, prepaid_rng, dirty_rng = np.random.default_rng(
        [seed, chunk.index, 1]
    ).spawn(5)
    reps, rep_recorded = legal_rep_history(registry_rng, chunk)
    dereg = deregistration(registry_rng, chunk)
    flows = monthly_flows(prepaid_rng, chunk)
    clean_complaints = complaints(complaint_rng, chunk)
    dirty_complaints = inject_dirty(
        dirty_rng, clean_complaints, dirty_rate, category="category", event="event_at", unknown="投诉建议"
    )
    txn = transactions(prepaid_rng, chunk, flows)
    return {
        "enterprises": enterprises(registry_rng, chunk, rep_recorded, dereg, seed),
        "legal_rep_history": reps,
        "abnormal_list": abnormal_list(abnormal_rng, chunk, dereg[1]),
        "complaints": cosmetic_codes(dirty_rng, dirty_complaints, dirty_rate),
        "prepaid_transactions": inject_dirty(
            dirty_rng, txn, dirty_rate, category="kind", event="txn_date", unknown="transfer"
        ),
        "escrow_balances": escrow_balances(prepaid_rng, chunk, flows),
        "closures": closures(registry_rng, chunk),
        TRUE_HAZARD: true_hazard(chunk),
    }


def true_hazard(chunk: Chunk) -> pl.DataFrame:
    """The oracle: the true closure hazard of every alive firm-month (the probability used to draw closure)."""
    f, m = np.nonzero(chunk.latent.alive)
    return contract_frame(
        TRUE_HAZARD,
        {
            "uscc": chunk.codes.gather(f),
            "month": chunk.grid.first[m],
            "hazard": pl.Series(chunk.latent.hazard[f, m], dtype=pl.Float32),
        },
    )
