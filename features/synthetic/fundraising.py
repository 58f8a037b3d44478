"""A synthetic illegal-fundraising (非法集资) world: enterprises, complaints, registry changes, public opinion, cases.

Latent process. A small share of firms (more in retail, elderly care and health care, companies with large declared
capital) starts a fundraising scheme in some month. From its onset the scheme promotes itself: public-opinion items
promising high yields (高息承诺) or guaranteed returns (保本保息), recruitment seminars (推介会), and often a change of
business scope to investment or wealth-management wording shortly before. Half the schemes do it online; the others work
offline and leave few opinion items. Some months later (5-16, per scheme) the scheme starts to fail: its monthly
hazard of a filed case rises along a logistic curve, and with it payout-delay items (兑付困难), a surge of refund,
contract and false-advertising complaints with large amounts, capital reductions, shareholder transfers and legal-
representative changes. Some schemes are slow and rarely reach a case inside the window.

Confounders: catering and retail draw many ordinary complaints; healthy firms have complaint bursts after a service
failure; elderly-care and health-care firms hold legitimate seminars; some firms legitimately add investment
consulting to their scope; a few cases hit firms with no visible signal at all.

`true_hazard.parquet` holds the monthly case probability every firm-month was drawn with (the oracle).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

import features.tables_fundraising as contracts
from features.atomic import fsync_dir
from features.contracts import get_contract
from features.loading import file_sha256
from features.reference import COMPLAINT_CATEGORIES, INDUSTRIES, SECTORS, TOWNS
from features.synthetic.months import MonthGrid, month_grid
from features.synthetic.names import INDUSTRY_WORDS, TRADE_NAMES, credit_codes, grid_cell_ids
from features.synthetic.profiles import grid_cells_per_town
from features.synthetic.writer import WorldSummary

GENERATOR_VERSION = "1"
TRUE_HAZARD = "true_hazard"
MANIFEST = "manifest.json"
INDUSTRY_CODES: tuple[str, ...] = tuple(INDUSTRIES)
# Firms per industry (retail and catering dominate a district's small businesses).
INDUSTRY_WEIGHTS: dict[str, float] = {
    "8391": 4, "8392": 2, "8393": 3, "8399": 4, "8310": 2, "8930": 3, "8040": 8, "8051": 2, "8052": 3,
    "8060": 5, "6210": 12, "6220": 10, "6241": 3, "8111": 5, "8514": 3, "5261": 14, "5292": 14, "8021": 2,
}  # fmt: skip
TOWN_WEIGHTS: tuple[float, ...] = (9, 8, 7, 7, 8, 6, 4, 7, 3, 2, 2, 4, 3, 3, 1.5, 1.5, 2, 2, 2)
# Share of firms running a scheme, by sector (before the company/capital adjustments).
SCHEME_PRIOR: dict[str, float] = {
    "retail": 0.055, "elderly_care": 0.09, "beauty": 0.035, "education_training": 0.03, "early_education": 0.01,
    "fitness": 0.02, "bath_massage": 0.02, "catering": 0.008, "car_wash": 0.01, "laundry": 0.005,
}  # fmt: skip
HEALTH_INDUSTRIES = ("8060", "8514")  # 保健服务, 养老服务: legitimate seminars, and schemes aimed at the elderly
COMPLAINT_RATE: dict[str, float] = {
    "retail": 0.035, "catering": 0.045, "beauty": 0.03, "education_training": 0.025, "early_education": 0.02,
    "fitness": 0.025, "bath_massage": 0.02, "car_wash": 0.015, "elderly_care": 0.015, "laundry": 0.012,
}  # fmt: skip
BASE_CASE_HAZARD = 1.2e-4  # monthly case probability of a firm without a scheme (cases with no visible signal)
BIRTH_SHARE = 0.2

CATEGORY_NAMES: tuple[str, ...] = tuple(COMPLAINT_CATEGORIES)
# Complaint mixes (refund, closure, service, false ads, contract, other).
MIX_ORDINARY = np.array([0.06, 0.005, 0.33, 0.14, 0.15, 0.315])
MIX_BURST = np.array([0.35, 0.03, 0.40, 0.05, 0.12, 0.05])
MIX_SCHEME = np.array([0.42, 0.04, 0.02, 0.20, 0.24, 0.08])
COMPLAINT_TEXTS: dict[str, str] = {
    "refund_refusal": "投资款/会员费到期无法退还",
    "closure_absconding": "门店关闭，负责人联系不上",
    "service_decline": "服务质量下降，与承诺不符",
    "false_advertising": "宣传的收益或优惠与实际不符",
    "contract_dispute": "对合同或协议条款有争议",
    "other": "其他消费问题，要求协调处理",
}
TOPIC_NAMES: tuple[str, ...] = tuple(contracts.OPINION_TOPICS)
SOURCE_NAMES: tuple[str, ...] = tuple(contracts.OPINION_SOURCES)
CHANGE_NAMES: tuple[str, ...] = tuple(contracts.REGISTRY_CHANGE_KINDS)
CASE_NAMES: tuple[str, ...] = tuple(contracts.CASE_KINDS)
NEVER = 2**40  # "no such day"


@dataclass(frozen=True)
class _Firms:
    industry: np.ndarray  # index into INDUSTRY_CODES
    sector: np.ndarray  # index into SECTORS
    town: np.ndarray
    cell: np.ndarray
    etype: np.ndarray  # 0 company, 1 sole trader
    reg_day: np.ndarray
    capital: np.ndarray
    size: np.ndarray  # relative size (complaint and opinion volume)

    def __len__(self) -> int:
        return len(self.industry)


@dataclass(frozen=True)
class _Latent:
    scheme: np.ndarray  # runs a scheme at some time
    onset: np.ndarray  # month index of the scheme's onset (may be negative: before the window)
    online: np.ndarray  # promotes online (leaves opinion items)
    promo: np.ndarray  # (firm, month) promotion intensity 0..1 while the scheme runs
    collapse: np.ndarray  # (firm, month) scheme part of the case hazard
    hazard: np.ndarray  # (firm, month) total monthly case probability (also after a case: the oracle needs it)
    exists: np.ndarray  # (firm, month) registered and not (ordinarily) deregistered
    case_day: np.ndarray  # day of the filed case, NEVER when none
    case_month: np.ndarray
    end_day: np.ndarray  # last day the firm exists (deregistration - 1), NEVER-ish when alive


def generate_fundraising_world(
    out_dir: Path,
    n_enterprises: int = 20_000,
    start: date = date(2023, 1, 1),
    end: date = date(2026, 6, 30),
    seed: int = 7,
    progress: bool = False,
) -> WorldSummary:
    """Generate the illegal-fundraising world and publish it atomically in `out_dir`.

    Writes enterprises, complaints, registry_changes, public_opinion and fundraising_cases (their contracts' exact
    columns), the oracle `true_hazard.parquet` (uscc, month, hazard) and the sender `manifest.json` last. The same
    arguments always give the same rows.

    Args:
        out_dir: destination folder; an existing world there (a folder with manifest.json) is replaced.
        n_enterprises: number of firms.
        start, end: the window; nothing dated or recorded after `end` is emitted.
        seed: world seed.
        progress: print one line per table.
    """
    if n_enterprises < 1:
        raise ValueError(f"n_enterprises must be positive, got {n_enterprises}")
    began = time.perf_counter()
    grid = month_grid(start, end)
    rng = np.random.default_rng([seed, 20])
    firm_rng, latent_rng, complaint_rng, change_rng, opinion_rng, case_rng = rng.spawn(6)
    firms = _sample_firms(firm_rng, n_enterprises, grid)
    latent = _simulate(latent_rng, firms, grid)
    reg_year = firms.reg_day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    codes = credit_codes(np.arange(n_enterprises, dtype=np.int64), firms.etype, reg_year, seed)
    tables = {
        "enterprises": _enterprises(firm_rng, firms, latent, codes, grid),
        "complaints": _complaints(complaint_rng, firms, latent, codes, grid),
        "registry_changes": _registry_changes(change_rng, firms, latent, codes, grid),
        "public_opinion": _public_opinion(opinion_rng, firms, latent, codes, grid),
        "fundraising_cases": _cases(case_rng, latent, codes, grid),
        TRUE_HAZARD: _true_hazard(latent, codes, grid),
    }
    params = {
        "generator": "fundraising", "n_enterprises": n_enterprises, "start": start.isoformat(),
        "end": end.isoformat(), "seed": seed, "version": GENERATOR_VERSION,
    }  # fmt: skip
    rows = publish_world(Path(out_dir), tables, params, oracle_tables=(TRUE_HAZARD,))
    if progress:
        for name, count in rows.items():
            print(f"  {name:<20} {count:>10,} rows")
    return WorldSummary(Path(out_dir), rows, time.perf_counter() - began)


def publish_world(
    out_dir: Path,
    tables: Mapping[str, pl.DataFrame],
    generator: Mapping[str, Any],
    oracle_tables: tuple[str, ...] = (),
) -> dict[str, int]:
    """Write in-memory tables as `<name>.parquet` into a staging folder, the manifest last, then rename into place.

    The manifest has the sender format validation checks ({"tables": {name: {"file", "rows", "sha256"}}}). A folder
    that exists without a manifest and is not empty is never replaced (it is not a world).
    """
    if out_dir.exists() and not (out_dir / MANIFEST).exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} exists, is not empty and holds no {MANIFEST}; refusing to replace")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir()
    try:
        entries = {}
        for name, frame in tables.items():
            path = stage / f"{name}.parquet"
            frame.write_parquet(path, compression="zstd", statistics=True)
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
            entries[name] = {"file": path.name, "rows": frame.height, "sha256": file_sha256(path)}
        manifest = {"tables": entries, "generator": dict(generator), "oracle_tables": list(oracle_tables)}
        text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n"
        (stage / MANIFEST).write_text(text, encoding="utf-8")
        fsync_dir(stage)
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            shutil.rmtree(old, ignore_errors=True)
            os.rename(out_dir, old)
            os.rename(stage, out_dir)
            shutil.rmtree(old)
        else:
            os.rename(stage, out_dir)
        fsync_dir(out_dir.parent)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return {name: frame.height for name, frame in tables.items()}


# --- sampling helpers -------------------------------------------------------------------------------------------


def lags(rng: np.random.Generator, n: int, low: int, high: int, skew: float = 2.0) -> np.ndarray:
    """Reporting lags in [low, high] days, skewed towards `low`."""
    return low + np.floor(rng.random(n) ** skew * (high - low + 1)).astype(np.int64)


def pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of a (rows x categories) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random((probs.shape[0], 1)) * cum[:, -1:]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def scatter_events(
    rng: np.random.Generator, rate: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson(rate) events per (entity, month) cell, each on a uniform day of [lo, hi] (cells with hi < lo: none).

    Returns:
        (entity index, day) per event.
    """
    counts = rng.poisson(np.where(hi >= lo, rate, 0.0))
    f, m = np.nonzero(counts)
    reps = counts[f, m]
    f, m = np.repeat(f, reps), np.repeat(m, reps)
    span = np.maximum(hi[f, m] - lo[f, m] + 1, 1)
    return f, lo[f, m] + np.floor(rng.random(f.size) * span).astype(np.int64)


def _bounds(grid: MonthGrid, first_day: np.ndarray, last_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (entity, month): the days of the month inside the window and inside [first_day, last_day]."""
    lo = np.maximum(grid.lo[None, :], first_day[:, None])
    hi = np.minimum(grid.hi[None, :], last_day[:, None])
    return lo, hi


def _ids(prefix: str, n: int) -> pl.Series:
    return pl.Series([f"{prefix}{i:08d}" for i in range(1, n + 1)], dtype=pl.String)


def date_series(days: np.ndarray) -> pl.Series:
    """Day numbers since 1970-01-01 to a Date series (NEVER and beyond become null)."""
    missing = days >= NEVER
    values = pl.Series(np.where(missing, 0, days).astype(np.int32)).cast(pl.Date)
    return values.scatter(np.flatnonzero(missing), None) if missing.any() else values


def _frame(table: str, columns: Mapping[str, Any]) -> pl.DataFrame:
    """A frame with exactly the contract's columns, in order and with its dtypes."""
    schema = get_contract(table).schema
    return pl.DataFrame({name: pl.Series(name, columns[name]).cast(dtype) for name, dtype in schema.items()})


def _sorted_events(f: np.ndarray, day: np.ndarray, recorded: np.ndarray, *extra: np.ndarray) -> tuple[np.ndarray, ...]:
    """Events recorded by the window end, ordered by day then firm (stable ids across runs)."""
    order = np.lexsort((f, day))
    return tuple(a[order] for a in (f, day, recorded, *extra))


# --- firms and the latent process -------------------------------------------------------------------------------


def _sample_firms(rng: np.random.Generator, n: int, grid: MonthGrid) -> _Firms:
    weights = np.array([INDUSTRY_WEIGHTS[c] for c in INDUSTRY_CODES], dtype=np.float64)
    industry = rng.choice(len(INDUSTRY_CODES), size=n, p=weights / weights.sum())
    sector = np.array([SECTORS.index(INDUSTRIES[c][0]) for c in INDUSTRY_CODES])[industry]
    town = rng.choice(len(TOWNS), size=n, p=np.array(TOWN_WEIGHTS) / sum(TOWN_WEIGHTS))
    cells = grid_cells_per_town()[town]
    cell = np.minimum(1 + np.floor(rng.random(n) ** 1.3 * cells).astype(np.int64), cells)
    etype = (rng.random(n) < 0.3).astype(np.int64)
    z = rng.normal(0, 1, n)
    median = np.where(etype == 1, 5e4, 1e6)
    step = np.where(etype == 1, 1e3, 1e4)
    capital = np.maximum(np.round(median * np.exp(np.where(etype == 1, 0.8, 1.1) * z) / step) * step, step)
    age_years = np.minimum(rng.exponential(5.0, n) + 0.1, 25.0)
    before = grid.start_day - np.round(age_years * 365.25).astype(np.int64)
    born = grid.start_day + np.floor(rng.random(n) * (grid.end_day - 60 - grid.start_day)).astype(np.int64)
    reg_day = np.where(rng.random(n) < BIRTH_SHARE, born, before)
    size = np.exp(0.3 * z + rng.normal(0, 0.5, n))
    return _Firms(industry, sector, town, cell, etype, reg_day, capital, size)


def _simulate(rng: np.random.Generator, firms: _Firms, grid: MonthGrid) -> _Latent:
    n, months = len(firms), grid.n
    prior = np.array([SCHEME_PRIOR[s] for s in SECTORS])[firms.sector]
    log_capital_z = (np.log(firms.capital) - np.log(1e6)) / 1.1
    prior = prior * np.where(firms.etype == 0, 1.25, 0.35) * np.exp(0.25 * np.clip(log_capital_z, -2, 3))
    scheme = rng.random(n) < np.clip(prior, 0, 0.5)
    # Month index of registration (negative before the window): a scheme starts at least two months after it.
    reg_month = np.floor((firms.reg_day - grid.start_day) / 30.44).astype(np.int64)
    onset = rng.integers(-24, months, n)
    onset = np.where(onset < reg_month + 2, reg_month + 2 + rng.integers(0, 6, n), onset)
    online = rng.random(n) < 0.55
    midpoint = rng.uniform(5, 16, n)
    peak = np.clip(np.exp(rng.normal(np.log(0.13), 0.5, n)), 0.02, 0.45)
    peak = np.where(rng.random(n) < 0.2, 0.12 * peak, peak)  # slow schemes: rarely reach a case in the window
    age = np.arange(months)[None, :] - onset[:, None]
    running = scheme[:, None] & (age >= 0)
    promo = np.where(running, np.minimum(1.0, (age + 1) / 4.0), 0.0)
    collapse = np.where(running, peak[:, None] / (1 + np.exp(-(age - midpoint[:, None]) / 2.0)), 0.0)
    # Ordinary deregistration (about 3 % a year) ends a firm; a case may follow a revocation later.
    dereg_month = np.where(rng.random(n) < 0.1, rng.integers(0, months + 30, n), NEVER)
    dereg_month = np.where(dereg_month <= reg_month + 1, NEVER, dereg_month)
    exists = (grid.last[None, :] >= firms.reg_day[:, None]) & (np.arange(months)[None, :] < dereg_month[:, None])
    hazard = np.where(exists, 1 - (1 - BASE_CASE_HAZARD) * (1 - collapse), 0.0)
    hit = rng.random((n, months)) < hazard
    has_case = hit.any(axis=1)
    case_month = np.where(has_case, hit.argmax(axis=1), NEVER)
    lo, hi = _bounds(grid, firms.reg_day, np.full(n, grid.end_day))
    rows = np.flatnonzero(has_case)
    case_day = np.full(n, NEVER, dtype=np.int64)
    m = case_month[rows]
    span = np.maximum(hi[rows, m] - lo[rows, m] + 1, 1)
    case_day[rows] = lo[rows, m] + np.floor(rng.random(rows.size) * span).astype(np.int64)
    # Firms with a case are revoked some months later; others keep their ordinary deregistration.
    revoked = has_case & (rng.random(n) < 0.7)
    dereg_day = np.where(dereg_month < months, grid.first[np.minimum(dereg_month, months - 1)], NEVER)
    dereg_day = dereg_day + np.where(dereg_month < months, rng.integers(0, 28, n), 0)
    dereg_day = np.where(revoked, np.minimum(dereg_day, case_day + rng.integers(60, 270, n)), dereg_day)
    end_day = np.where(dereg_day < NEVER, dereg_day - 1, NEVER)
    alive = np.arange(months)[None, :] <= np.where(has_case, case_month, months)[:, None]
    return _Latent(
        scheme=scheme,
        onset=onset,
        online=online,
        promo=np.where(alive, promo, 0.0),
        collapse=np.where(alive, collapse, 0.0),
        hazard=hazard,
        exists=exists,
        case_day=case_day,
        case_month=case_month,
        end_day=end_day,
    )


# --- observed tables --------------------------------------------------------------------------------------------


def _enterprises(
    rng: np.random.Generator, firms: _Firms, latent: _Latent, codes: np.ndarray, grid: MonthGrid
) -> pl.DataFrame:
    n = len(firms)
    trade = np.array(TRADE_NAMES, dtype=object)[rng.integers(0, len(TRADE_NAMES), n)]
    words = np.array([INDUSTRY_WORDS[c][k] for c in INDUSTRY_CODES for k in range(2)], dtype=object)
    word = words[firms.industry * 2 + rng.integers(0, 2, n)]
    town_short = np.array([t.removesuffix("街道").removesuffix("镇") for t in TOWNS], dtype=object)[firms.town]
    company = np.where(rng.random(n) < 0.6, "杭州萧山", "杭州") + trade + word + "有限公司"
    name = np.where(firms.etype == 0, company, "萧山区" + town_short + trade + word + "经营部")
    dereg_known = latent.end_day < grid.end_day
    dereg_day = np.where(dereg_known, latent.end_day + 1, NEVER)
    revoked = dereg_known & (latent.case_day < dereg_day)
    status = np.where(revoked, "revoked", np.where(dereg_known, "deregistered", "active"))
    recorded = np.minimum(firms.reg_day + lags(rng, n, 0, 10), grid.end_day)
    return _frame(
        "enterprises",
        {
            "uscc": codes,
            "name": name,
            "industry_code": np.array(INDUSTRY_CODES, dtype=object)[firms.industry],
            "sector": np.array(SECTORS, dtype=object)[firms.sector],
            "town": np.array(TOWNS, dtype=object)[firms.town],
            "grid_cell": grid_cell_ids(firms.town, firms.cell),
            "registered_at": date_series(firms.reg_day),
            "registered_capital": firms.capital,
            "status": status,
            "deregistered_at": date_series(dereg_day),
            "prepaid_filing": rng.random(n) < 0.08,
            "recorded_at": date_series(recorded),
        },
    )


def _life_bounds(firms: _Firms, latent: _Latent, grid: MonthGrid) -> tuple[np.ndarray, np.ndarray]:
    return _bounds(grid, firms.reg_day, np.minimum(latent.end_day, grid.end_day))


def _scheme_bounds(firms: _Firms, latent: _Latent, grid: MonthGrid) -> tuple[np.ndarray, np.ndarray]:
    """Scheme signals stop at the case (and at deregistration)."""
    last = np.minimum(np.minimum(latent.end_day, latent.case_day), grid.end_day)
    return _bounds(grid, firms.reg_day, last)


def _complaints(
    rng: np.random.Generator, firms: _Firms, latent: _Latent, codes: np.ndarray, grid: MonthGrid
) -> pl.DataFrame:
    n, months = len(firms), grid.n
    lo, hi = _life_bounds(firms, latent, grid)
    base = np.array([COMPLAINT_RATE[s] for s in SECTORS])[firms.sector] * firms.size
    season = np.where(grid.spring_festival, 0.8, 1.0)[None, :]
    f0, d0 = scatter_events(rng, base[:, None] * season, lo, hi)
    # Bursts after a service failure (a confounder): two months of many complaints.
    burst = rng.random((n, months)) < 0.004
    burst |= np.concatenate([np.zeros((n, 1), bool), burst[:, :-1]], axis=1)
    f1, d1 = scatter_events(rng, np.where(burst, 0.5, 0.0), lo, hi)
    slo, shi = _scheme_bounds(firms, latent, grid)
    f2, d2 = scatter_events(rng, 0.02 * latent.promo + 2.5 * latent.collapse, slo, shi)
    f = np.concatenate([f0, f1, f2])
    day = np.concatenate([d0, d1, d2])
    kind = np.concatenate([np.zeros(f0.size), np.ones(f1.size), np.full(f2.size, 2)]).astype(np.int64)
    mix = np.stack([MIX_ORDINARY, MIX_BURST, MIX_SCHEME])[kind]
    category = pick(rng, mix)
    amount = np.where(
        kind == 2,
        np.round(np.exp(rng.normal(np.log(20_000), 1.2, f.size)), -2),
        np.round(np.exp(rng.normal(np.log(1_500), 1.2, f.size)), 0),
    )
    amount = np.where(rng.random(f.size) < 0.15, np.nan, np.minimum(amount, 5_000_000.0))
    recorded = day + lags(rng, f.size, 0, 10)
    keep = recorded <= grid.end_day
    f, day, recorded, category, amount = _sorted_events(
        f[keep], day[keep], recorded[keep], category[keep], amount[keep]
    )
    names = np.array(CATEGORY_NAMES, dtype=object)[category]
    return _frame(
        "complaints",
        {
            "complaint_id": _ids("C", f.size),
            "uscc": codes[f],
            "channel": np.where(rng.random(f.size) < 0.55, "12345", "12315"),
            "event_at": date_series(day),
            "recorded_at": date_series(recorded),
            "category": names,
            "amount": pl.Series(amount, nan_to_null=True),
            "text": np.array([COMPLAINT_TEXTS[c] for c in CATEGORY_NAMES], dtype=object)[category],
        },
    )


def _registry_changes(
    rng: np.random.Generator, firms: _Firms, latent: _Latent, codes: np.ndarray, grid: MonthGrid
) -> pl.DataFrame:
    n, months = len(firms), grid.n
    lo, hi = _life_bounds(firms, latent, grid)
    slo, shi = _scheme_bounds(firms, latent, grid)
    retail = np.isin(firms.sector, [SECTORS.index("retail")])
    base_rates = {
        "capital_reduction": np.full(n, 0.0012),
        "shareholder_transfer": np.full(n, 0.003) * np.where(firms.etype == 0, 1.0, 0.2),
        "scope_to_finance": np.where(retail, 0.0012, 0.0004),  # legitimate investment-consulting scope
        "address_change": np.full(n, 0.005),
        "legal_rep_change": np.full(n, 0.004),
    }
    running = latent.promo > 0
    scheme_rates = {
        "capital_reduction": 0.5 * latent.collapse + 0.004 * running,
        "shareholder_transfer": 0.6 * latent.collapse + 0.006 * running,
        "scope_to_finance": np.zeros((n, months)),
        "address_change": 0.012 * running + 0.3 * latent.collapse,
        "legal_rep_change": 0.5 * latent.collapse,
    }
    parts_f, parts_d, parts_k = [], [], []
    for k, name in enumerate(CHANGE_NAMES):
        f0, d0 = scatter_events(rng, np.broadcast_to(base_rates[name][:, None], (n, months)), lo, hi)
        f1, d1 = scatter_events(rng, scheme_rates[name], slo, shi)
        parts_f += [f0, f1]
        parts_d += [d0, d1]
        parts_k += [np.full(f0.size + f1.size, k)]
    # Half the schemes move their business scope to investment wording in the months around the onset.
    moves = latent.scheme & (rng.random(n) < 0.5)
    month = latent.onset + rng.integers(-3, 1, n)
    in_window = moves & (month >= 0) & (month < months)
    rows = np.flatnonzero(in_window)
    m = month[rows]
    ok = hi[rows, m] >= lo[rows, m]
    rows, m = rows[ok], m[ok]
    day = lo[rows, m] + np.floor(rng.random(rows.size) * (hi[rows, m] - lo[rows, m] + 1)).astype(np.int64)
    before_case = day < latent.case_day[rows]
    parts_f.append(rows[before_case])
    parts_d.append(day[before_case])
    parts_k.append(np.full(int(before_case.sum()), CHANGE_NAMES.index("scope_to_finance")))
    f, day, kind = np.concatenate(parts_f), np.concatenate(parts_d), np.concatenate(parts_k)
    recorded = day + lags(rng, f.size, 0, 15)
    keep = recorded <= grid.end_day
    f, day, recorded, kind = _sorted_events(f[keep], day[keep], recorded[keep], kind[keep])
    return _frame(
        "registry_changes",
        {
            "change_id": _ids("RC", f.size),
            "uscc": codes[f],
            "kind": np.array(CHANGE_NAMES, dtype=object)[kind],
            "changed_at": date_series(day),
            "recorded_at": date_series(recorded),
        },
    )


def _public_opinion(
    rng: np.random.Generator, firms: _Firms, latent: _Latent, codes: np.ndarray, grid: MonthGrid
) -> pl.DataFrame:
    n, months = len(firms), grid.n
    lo, hi = _life_bounds(firms, latent, grid)
    slo, shi = _scheme_bounds(firms, latent, grid)
    health = np.isin(firms.industry, [INDUSTRY_CODES.index(c) for c in HEALTH_INDUSTRIES])
    education = firms.sector == SECTORS.index("education_training")
    retail = firms.sector == SECTORS.index("retail")
    reach = np.where(latent.online, 1.0, 0.12)[:, None]
    base_rates = {
        "high_yield_promise": np.where(retail, 0.0012, 0.0005),  # promotions misread as yield promises
        "guaranteed_return": np.full(n, 0.0003),
        "recruitment_seminar": np.select([health, education], [0.03, 0.004], 0.0006),  # legitimate seminars
        "payout_delay": np.full(n, 0.0008),  # wage or supplier payment delays of ordinary firms
        "other": 0.015 * firms.size,
    }
    scheme_rates = {
        "high_yield_promise": 0.10 * latent.promo * reach,
        "guaranteed_return": 0.05 * latent.promo * reach,
        "recruitment_seminar": 0.07 * latent.promo * np.where(health, 2.0, 1.0)[:, None] * np.sqrt(reach),
        "payout_delay": 1.5 * latent.collapse,
        "other": 0.01 * latent.promo,
    }
    sentiment_mean = {
        "high_yield_promise": 0.45, "guaranteed_return": 0.4, "recruitment_seminar": 0.3, "payout_delay": -0.6,
        "other": 0.05,
    }  # fmt: skip
    parts_f, parts_d, parts_k = [], [], []
    for k, topic in enumerate(TOPIC_NAMES):
        f0, d0 = scatter_events(rng, np.broadcast_to(base_rates[topic][:, None], (n, months)), lo, hi)
        f1, d1 = scatter_events(rng, scheme_rates[topic], slo, shi)
        parts_f += [f0, f1]
        parts_d += [d0, d1]
        parts_k += [np.full(f0.size + f1.size, k)]
    f, day, topic_index = np.concatenate(parts_f), np.concatenate(parts_d), np.concatenate(parts_k)
    means = np.array([sentiment_mean[t] for t in TOPIC_NAMES])[topic_index]
    sentiment = np.round(np.clip(rng.normal(means, 0.3), -1.0, 1.0), 3)
    source = rng.choice(len(SOURCE_NAMES), size=f.size, p=[0.2, 0.2, 0.35, 0.15, 0.1])
    recorded = day + lags(rng, f.size, 0, 7, skew=3.0)
    keep = recorded <= grid.end_day
    f, day, recorded, topic_index, sentiment, source = _sorted_events(
        f[keep], day[keep], recorded[keep], topic_index[keep], sentiment[keep], source[keep]
    )
    return _frame(
        "public_opinion",
        {
            "item_id": _ids("PO", f.size),
            "uscc": codes[f],
            "source": np.array(SOURCE_NAMES, dtype=object)[source],
            "topic": np.array(TOPIC_NAMES, dtype=object)[topic_index],
            "sentiment": sentiment,
            "published_at": date_series(day),
            "recorded_at": date_series(recorded),
        },
    )


def _cases(rng: np.random.Generator, latent: _Latent, codes: np.ndarray, grid: MonthGrid) -> pl.DataFrame:
    f = np.flatnonzero(latent.case_day < NEVER)
    day = latent.case_day[f]
    recorded = day + lags(rng, f.size, 3, 45)
    kind = np.where(latent.scheme[f], rng.choice(3, size=f.size, p=[0.6, 0.25, 0.15]), 2)
    keep = recorded <= grid.end_day
    f, day, recorded, kind = _sorted_events(f[keep], day[keep], recorded[keep], kind[keep])
    return _frame(
        "fundraising_cases",
        {
            "case_id": _ids("FC", f.size),
            "uscc": codes[f],
            "kind": np.array(CASE_NAMES, dtype=object)[kind],
            "filed_at": date_series(day),
            "recorded_at": date_series(recorded),
        },
    )


def _true_hazard(latent: _Latent, codes: np.ndarray, grid: MonthGrid) -> pl.DataFrame:
    f, m = np.nonzero(latent.exists)
    return pl.DataFrame(
        {
            "uscc": pl.Series(codes[f], dtype=pl.String),
            "month": date_series(grid.first[m]),
            "hazard": pl.Series(latent.hazard[f, m], dtype=pl.Float32),
        }
    )


__all__ = ["date_series", "generate_fundraising_world", "publish_world"]
