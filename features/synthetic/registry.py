"""Registry tables: enterprises, legal-representative history and closures.

Legal representatives change for ordinary reasons (young, mostly local people, in healthy firms too) and, in a
fraction of winding-down firms, to a non-local elderly "professional closer" near the start of the exit episode,
i.e. typically 1-4 months before closure. Closed firms are deregistered or revoked some months later; the registry
only shows what was recorded by the window end.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from features.reference import ENTERPRISE_STATUSES, INDUSTRIES, TOWNS
from features.synthetic.chunk import Chunk, lag_days
from features.synthetic.latent import CLOSURE_KIND_NAMES, NO_DAY
from features.synthetic.months import uniform_days
from features.synthetic.names import company_names, grid_cell_ids, id_numbers, person_names
from features.synthetic.profiles import INDUSTRY_CODES
from features.synthetic.writer import NULL_DAY, contract_frame

ORDINARY_CHANGE_RATE = 0.005  # per firm-month: about 6 % of firms change their legal representative each year
INITIAL, ORDINARY, CLOSER = 0, 1, 2


def rep_change_days(rng: np.random.Generator, chunk: Chunk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days on which each firm's legal representative took office, with the kind of change.

    Returns:
        (firm index, day, kind) sorted by firm and day, one change per firm and day.
    """
    firms, lat, grid = chunk.firms, chunk.latent, chunk.grid
    n = chunk.n
    parts: list[tuple[np.ndarray, np.ndarray, int]] = [(np.arange(n), firms.reg_day, INITIAL)]
    # Older firms may have changed representative before the window.
    old = np.flatnonzero((firms.reg_day < grid.start_day - 730) & (rng.random(n) < 0.3))
    parts.append((old, uniform_days(rng, firms.reg_day[old] + 180, np.full(len(old), grid.start_day - 1)), ORDINARY))
    lo, hi = chunk.cell_bounds()
    f, m = np.nonzero((hi > lo) & (rng.random(lo.shape) < ORDINARY_CHANGE_RATE))
    parts.append((f, uniform_days(rng, lo[f, m] + 1, hi[f, m]), ORDINARY))
    # Professional closers arrive as the exit episode begins (before the window for firms already winding down).
    starts = (lat.tenure == 0) | ((np.arange(grid.n) == 0)[None, :] & (lat.tenure > 0))
    f, m = np.nonzero(starts & lat.exiting & lat.pro_closer[:, None])
    begin = grid.first[m] - 30 * lat.tenure[f, m]
    day = uniform_days(rng, begin - 20, begin + 10)
    day = np.minimum(np.maximum(day, firms.reg_day[f] + 1), np.minimum(lat.close_day[f] - 3, grid.end_day))
    keep = day > firms.reg_day[f]
    parts.append((f[keep], day[keep], CLOSER))
    firm = np.concatenate([np.asarray(p[0], np.int64) for p in parts])
    days = np.concatenate([np.asarray(p[1], np.int64) for p in parts])
    kind = np.concatenate([np.full(len(p[0]), p[2], np.int64) for p in parts])
    order = np.lexsort((kind, days, firm))
    firm, days, kind = firm[order], days[order], kind[order]
    last_of_day = np.append((firm[1:] != firm[:-1]) | (days[1:] != days[:-1]), True)
    return firm[last_of_day], days[last_of_day], kind[last_of_day]


def legal_rep_history(rng: np.random.Generator, chunk: Chunk) -> tuple[pl.DataFrame, np.ndarray]:
    """The legal_rep_history table of a chunk and each firm's latest recorded change day.

    Returns:
        (frame, last recorded_at per firm).
    """
    firm, valid_from, kind = rep_change_days(rng, chunk)
    k = len(firm)
    elderly_ordinary = (kind == ORDINARY) & (rng.random(k) < 0.06)
    age = np.select(
        [kind == CLOSER, elderly_ordinary, kind == ORDINARY],
        [rng.integers(60, 80, k), rng.integers(60, 73, k), np.clip(rng.normal(40, 10, k), 22, 75)],
        np.clip(rng.normal(38, 9, k), 20, 70),
    ).astype(np.int64)
    p_local = np.select([kind == CLOSER, elderly_ordinary, kind == ORDINARY], [0.1, 0.4, 0.7], 0.65)
    local = rng.random(k) < p_local
    recorded = valid_from + lag_days(rng, k, 0, 20)
    known = recorded <= chunk.grid.end_day  # changes registered after the window end are not known yet
    firm, valid_from, recorded, age, local = firm[known], valid_from[known], recorded[known], age[known], local[known]
    k = len(firm)
    same_firm_next = np.append(firm[1:] == firm[:-1], False)
    valid_to = np.where(same_firm_next, np.append(valid_from[1:], 0) - 1, NULL_DAY)
    frame = contract_frame(
        "legal_rep_history",
        {
            "uscc": chunk.codes.gather(firm),
            "rep_name": person_names(rng, k),
            "rep_id_number": id_numbers(rng, local, age, valid_from),
            "rep_age": age,
            "rep_is_local": local,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "recorded_at": recorded,
        },
    )
    last = np.full(chunk.n, -(2**40), np.int64)
    np.maximum.at(last, firm, recorded)
    return frame, last


def deregistration(rng: np.random.Generator, chunk: Chunk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Registry status after closure, as known at the window end.

    Returns:
        (status index into ENTERPRISE_STATUSES, deregistered_at day or NULL_DAY, day it was recorded).
    """
    lat, n = chunk.latent, chunk.n
    kind = np.array((*CLOSURE_KIND_NAMES, ""))[lat.close_kind]
    u = rng.random(n)
    # Orderly closers deregister soon; others much later or never; absconders are often revoked after listing.
    delay = np.select(
        [kind == "deregistration", (kind == "closure") & (u < 0.35), (kind == "absconding") & (u < 0.3),
         (kind == "absconding") & (u < 0.4)],
        [rng.integers(0, 21, n), rng.integers(30, 301, n), rng.integers(180, 541, n), rng.integers(60, 401, n)],
        -1,
    )  # fmt: skip
    status = np.where((kind == "absconding") & (u < 0.3), 2, 1)
    day = lat.close_day + delay
    recorded = day + lag_days(rng, n, 0, 10)
    known = (delay >= 0) & (lat.close_day < NO_DAY) & (recorded <= chunk.grid.end_day)
    return np.where(known, status, 0), np.where(known, day, NULL_DAY), np.where(known, recorded, -(2**40))


def enterprises(
    rng: np.random.Generator, chunk: Chunk, rep_recorded: np.ndarray, dereg: tuple[np.ndarray, ...], seed: int
) -> pl.DataFrame:
    """The enterprises table: one row per firm with its registry facts as last written by the window end."""
    firms = chunk.firms
    status, dereg_day, dereg_recorded = dereg
    registered = firms.reg_day + lag_days(rng, chunk.n, 0, 10)
    recorded = np.maximum(np.maximum(registered, rep_recorded), dereg_recorded)
    return contract_frame(
        "enterprises",
        {
            "uscc": chunk.codes,
            "name": company_names(rng, firms.gidx, firms.industry, firms.etype, firms.town, seed),
            "industry_code": np.array(INDUSTRY_CODES, dtype=object)[firms.industry],
            "sector": np.array([INDUSTRIES[c][0] for c in INDUSTRY_CODES], dtype=object)[firms.industry],
            "town": np.array(TOWNS, dtype=object)[firms.town],
            "grid_cell": grid_cell_ids(firms.town, firms.grid),
            "registered_at": firms.reg_day,
            "registered_capital": firms.capital,
            "status": np.array(ENTERPRISE_STATUSES, dtype=object)[status],
            "deregistered_at": dereg_day,
            "prepaid_filing": firms.prepaid,
            "recorded_at": np.minimum(recorded, chunk.grid.end_day),
        },
    )


def closures(rng: np.random.Generator, chunk: Chunk) -> pl.DataFrame:
    """The closures table: closures confirmed (recorded) by the window end."""
    lat = chunk.latent
    firm = np.flatnonzero(chunk.closed())
    kind = lat.close_kind[firm]
    # Absconding surfaces fast through complaints; a quiet closure may take two months to confirm.
    lag = np.select(
        [kind == 0, kind == 1], [lag_days(rng, len(firm), 0, 30), lag_days(rng, len(firm), 5, 60)],
        lag_days(rng, len(firm), 0, 10),
    )  # fmt: skip
    recorded = lat.close_day[firm] + lag
    keep = recorded <= chunk.grid.end_day
    firm = firm[keep]
    return contract_frame(
        "closures",
        {
            "uscc": chunk.codes.gather(firm),
            "closed_at": lat.close_day[firm],
            "kind": np.array(CLOSURE_KIND_NAMES, dtype=object)[lat.close_kind[firm]],
            "recorded_at": recorded[keep],
        },
    )
