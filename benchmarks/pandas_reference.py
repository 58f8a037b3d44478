"""The prepaid feature set written the plain pandas way, for one as-of date: the benchmark's baseline.

This is what a competent data scientist would write without the engine: read each table once, cut it to the rows
known at the as-of date (`recorded_at <= t` and event date `<= t`), then one boolean mask and one `groupby` per
window, `sort_values` + `drop_duplicates` for "latest row", and `groupby(...).transform("median")` for peer groups.
Everything is vectorised; there are no per-row Python loops.

It is deliberately not a slow strawman: the entity key is read as a dictionary (pandas `category`) whose categories
are the enterprise ids, so every `groupby(observed=False)` works on integer codes and returns one row per
enterprise already in output order; dates are read as `datetime64` rather than Python objects; only the needed
columns are read; and `load_tables` lets a caller read the files once and compute many dates from them.

The definitions follow `features/blocks/prepaid.py` and the point-in-time rules of `features/asof.py`:

* a row is visible at `t` when `recorded_at <= t` and its event date `<= t`;
* `Window(end, start)` holds the visible rows with event date in `(t - end, t - start]`;
* "latest" is the visible row with the greatest order key (ties: the later visible, then the greatest values);
* an interval is in force when it is visible and `t < valid_to` (or `valid_to` is null).

Amounts are summed as whole cents (exact in float64 far beyond any realistic total), as the engine does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from features.assembly import feature_columns
from features.blocks.prepaid import PREPAID_FEATURE_SET
from features.reference import COMPLAINT_CATEGORIES

ENTITY = "entity_id"
AS_OF = "as_of"
INFLOW = ("sale", "recharge")
FOREVER_DAYS = 36_500
ESCROW_SHARE = 0.2  # below 20 % of a year's card sales and recharges ...
MATERIAL_INTAKE_YUAN = 100_000  # ... once that intake is material
ELDERLY_AGE = 60

# table -> (columns read, columns read as dictionaries, event-date column)
TABLES: dict[str, tuple[list[str], list[str], str]] = {
    "enterprises": (
        ["uscc", "registered_at", "registered_capital", "sector", "town", "industry_code", "recorded_at"],
        ["uscc"],
        "registered_at",
    ),
    "complaints": (["uscc", "event_at", "recorded_at", "category", "amount"], ["uscc", "category"], "event_at"),
    "prepaid_transactions": (["uscc", "txn_date", "kind", "amount", "recorded_at"], ["uscc", "kind"], "txn_date"),
    "escrow_balances": (["uscc", "balance_date", "balance", "recorded_at"], ["uscc"], "balance_date"),
    "legal_rep_history": (
        ["uscc", "rep_age", "rep_is_local", "valid_from", "valid_to", "recorded_at"],
        ["uscc"],
        "valid_from",
    ),
    "abnormal_list": (["uscc", "listed_at", "removed_at", "reason", "recorded_at"], ["uscc", "reason"], "listed_at"),
}


@dataclass
class Tables:
    """The tables read once: `ids` are the sorted enterprise ids, every entity column a category over them."""

    ids: pd.CategoricalIndex
    frames: dict[str, pd.DataFrame]


def load_tables(data_dir: Path) -> Tables:
    """Read the six tables the prepaid feature set uses from `<name>.parquet` files."""
    frames = {}
    for name, (columns, dictionaries, _) in TABLES.items():
        table = pq.read_table(Path(data_dir) / f"{name}.parquet", columns=columns, read_dictionary=dictionaries)
        frames[name] = table.to_pandas(date_as_object=False).rename(columns={"uscc": ENTITY})
    ids = np.sort(frames["enterprises"][ENTITY].dropna().unique().astype(object))
    for name, frame in frames.items():
        # Rows of entities outside the enterprise table can never reach an output row.
        frame[ENTITY] = frame[ENTITY].cat.set_categories(ids)
        frames[name] = frame[frame[ENTITY].notna()]
    return Tables(pd.CategoricalIndex(ids, categories=ids, name=ENTITY), frames)


def pandas_features(data_dir: Path, as_of: date, tables: Tables | None = None) -> pd.DataFrame:
    """The prepaid feature frame at one as-of date: `entity_id`, `as_of`, then `<block>__<column>` columns."""
    tables = tables or load_tables(data_dir)
    t = pd.Timestamp(as_of)
    ids = tables.ids
    visible = {name: _visible(tables.frames[name], TABLES[name][2], t) for name in TABLES}
    out = pd.DataFrame(index=ids)

    def put(block: str, values: dict[str, pd.Series]) -> None:
        for column, series in values.items():
            out[f"{block}__{column}"] = series

    # --- profile: the enterprise row with the latest recorded_at.
    ent = _latest(
        visible["enterprises"],
        "enterprises",
        "recorded_at",
        ids,
        ["registered_at", "registered_capital", "sector", "town", "industry_code"],
    )
    put(
        "profile",
        {
            "age_days": _days(t - ent["registered_at"]),
            "log_registered_capital": np.log1p(ent["registered_capital"]),
            "sector": ent["sector"],
            "town": ent["town"],
            "industry_code": ent["industry_code"],
        },
    )

    # --- complaints
    cmp = visible["complaints"]
    cmp = cmp.assign(age=_days(t - cmp["event_at"]), cents=(cmp["amount"] * 100).round())
    counts = {}
    for days in (30, 90, 365):
        agg = _window(cmp, days, values=["cents"])
        total = agg["cents"] / 100
        counts[days] = agg["count"]
        put(
            "complaints",
            {f"count_{days}d": agg["count"], f"sum_{days}d": total, f"mean_{days}d": _ratio(total, agg["count"])},
        )
    refund_refusal = cmp[cmp["category"] == "refund_refusal"]
    put("refund_complaints", {f"count_{d}d": _window(refund_refusal, d)["count"] for d in (30, 90, 180)})
    closure = cmp[cmp["category"] == "closure_absconding"]
    put("closure_complaints", {f"count_{d}d": _window(closure, d)["count"] for d in (30, 90)})
    put("complaint_surge", {"surge_30_180d": _surge(cmp, "count", 30, 180)})
    put("complaint_trend", _trend(cmp, "count"))
    put("complaint_recency", {"days_since_last": _days(t - cmp.groupby(ENTITY, observed=False)["event_at"].max())})
    mix = cmp[cmp["age"] < 180]
    by_category = mix.groupby([ENTITY, "category"], observed=False).size().unstack("category")
    by_category = by_category.reindex(columns=list(COMPLAINT_CATEGORIES), fill_value=0)
    mix_total = mix.groupby(ENTITY, observed=False).size()
    put("complaint_mix", {f"share_{c}_180d": _ratio(by_category[c], mix_total) for c in COMPLAINT_CATEGORIES})

    # --- prepaid transactions (the big table: keep a narrow frame, select rows by masks, copy only what is summed)
    txn = visible["prepaid_transactions"]
    txn = pd.DataFrame(
        {
            ENTITY: txn[ENTITY],
            "age": _days(t - txn["txn_date"]).astype("int32"),
            "kind": txn["kind"],
            "cents": (txn["amount"] * 100).round().astype("int64"),
        }
    )
    is_inflow = txn["kind"].isin(INFLOW)
    is_redemption = txn["kind"] == "redemption"
    is_refund = txn["kind"] == "refund"
    card_sum_90d = None
    for block, where, windows in (
        ("card_sales", is_inflow, (30, 90, 180)),
        ("redemptions", is_redemption, (30, 90, 180)),
        ("refunds", is_refund, (90,)),
    ):
        for days in windows:
            agg = _window(txn, days, values=["cents"], where=where)
            total = agg["cents"] / 100
            if block == "card_sales" and days == 90:
                card_sum_90d = total
            put(
                block,
                {f"count_{days}d": agg["count"], f"sum_{days}d": total, f"mean_{days}d": _ratio(total, agg["count"])},
            )
    put("sales_trend", _trend(txn, "cents", where=is_inflow))
    put("presale_spike", {"surge_30_180d": _surge(txn, "cents", 30, 180, where=is_inflow)})
    put("redemption_trend", {"surge_30_90d": _surge(txn, "cents", 30, 90, where=is_redemption)})
    put("activity_recency", {"days_since_last": txn.groupby(ENTITY, observed=False)["age"].min()})

    # --- escrow balance against a year's intake; outstanding liability (intake minus payouts), growth, refunds
    def net(end: int, start: int = 0) -> pd.Series:
        intake = _window(txn, end, start, values=["cents"], where=is_inflow)["cents"]
        return intake - _window(txn, end, start, values=["cents"], where=~is_inflow)["cents"]

    liability, before = net(FOREVER_DAYS), net(FOREVER_DAYS, 90)
    inflow_90d = _window(txn, 90, values=["cents"], where=is_inflow)["cents"]
    refund_90d = _window(txn, 90, values=["cents"], where=is_refund)["cents"]
    outstanding = liability / 100
    esc = visible["escrow_balances"]
    esc = esc.assign(age=_days(t - esc["balance_date"]), cents=(esc["balance"] * 100).round())
    balance = _latest(esc, "escrow_balances", "balance_date", ids, ["balance"])["balance"]
    prior_agg = _window(esc, 180, 90, values=["cents"])
    prior = _ratio(prior_agg["cents"] / 100, prior_agg["count"])
    intake = _window(txn, 365, values=["cents"], where=is_inflow)["cents"] / 100
    coverage = (balance.fillna(0) / intake).where(intake > 0)
    put(
        "escrow",
        {
            "balance": balance,
            "coverage": coverage,
            "below_line": ((coverage < ESCROW_SHARE) & (intake >= MATERIAL_INTAKE_YUAN)).astype("int8"),
            "balance_vs_prior": _ratio(balance, prior),
        },
    )
    put(
        "liability",
        {
            "outstanding": outstanding,
            "growth_90d": _ratio((liability - before).astype("float64"), before),
            "refund_ratio_90d": _ratio(refund_90d.astype("float64"), inflow_90d),
        },
    )

    # --- legal representative
    rep = visible["legal_rep_history"]
    rep = rep.assign(age=_days(t - rep["valid_from"]))
    current = _latest(rep, "legal_rep_history", "valid_from", ids, ["rep_age", "rep_is_local", "valid_from"])
    terms = _window(rep, FOREVER_DAYS)["count"]
    changes = _window(rep, 365)["count"]
    days = _days(t - current["valid_from"])
    age = current["rep_age"] + np.floor(days / 365.25)
    is_local = current["rep_is_local"].astype("float64")
    changed = (terms > 1) & (days <= 365)
    founding_in_window = (terms == changes).astype("int64")
    put(
        "legal_rep",
        {
            "age": age,
            "is_local": is_local,
            "days_since_change": days,
            "changes_365d": (changes - founding_in_window).clip(lower=0),
            "elderly_nonlocal_change": (changed & (age >= ELDERLY_AGE) & (is_local == 0)).astype("int8"),
        },
    )

    # --- abnormal operation list: any listing, and listings for an unreachable address
    ab = visible["abnormal_list"]
    ab = ab.assign(age=_days(t - ab["listed_at"]))
    put("abnormal_list", _interval_state(ab, t))
    put("unreachable", _interval_state(ab[ab["reason"] == "unreachable_address"], t))

    # --- peers: value over the median of the same sector and town (enterprises visible at t only)
    peers = ent[["sector", "town"]].dropna()
    for block, column, values in (
        ("complaints_peer", "count_365d", counts[365]),
        ("sales_peer", "sum_90d", card_sum_90d),
    ):
        group = peers.assign(value=values.reindex(peers.index))
        median = group.groupby(["sector", "town"])["value"].transform("median")
        put(block, {f"{column}_peer_ratio": _ratio(group["value"], median)})

    expected = feature_columns(PREPAID_FEATURE_SET)
    if list(out.columns) != expected:
        missing, extra = sorted(set(expected) - set(out.columns)), sorted(set(out.columns) - set(expected))
        raise AssertionError(f"pandas reference is out of date with the feature set: missing {missing}, extra {extra}")
    out = out.reset_index()
    out[ENTITY] = out[ENTITY].astype(object)
    out.insert(1, AS_OF, as_of)
    return out


def _visible(frame: pd.DataFrame, event_at: str, t: pd.Timestamp) -> pd.DataFrame:
    return frame[(frame["recorded_at"] <= t) & (frame[event_at] <= t)]


def _days(delta: pd.Series) -> pd.Series:
    return delta.dt.days


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, NaN where the denominator is zero or missing."""
    return (numerator / denominator).where(denominator != 0)


def _window(
    frame: pd.DataFrame,
    end: int,
    start: int = 0,
    values: list[str] | None = None,
    where: pd.Series | None = None,
) -> pd.DataFrame:
    """`count` (and sums of `values`) per entity of rows with event date in (t - end, t - start]; `age` in days.

    `where` is an extra row mask. Only the entity and the summed columns of the selected rows are copied.
    """
    mask = (frame["age"] >= start) & (frame["age"] < end)
    if where is not None:
        mask &= where
    rows = frame.loc[mask, [ENTITY, *(values or [])]]
    grouped = rows.groupby(ENTITY, observed=False)
    result = grouped.size().to_frame("count")
    if values:
        result[values] = grouped[values].sum()
    return result


def _latest(frame: pd.DataFrame, table: str, order: str, ids: pd.CategoricalIndex, values: list[str]) -> pd.DataFrame:
    """The row with the greatest `order` per entity (reindexed to every entity).

    Rows tied on `order` are resolved by the day they became visible (the later wins), then by their `values`
    (greatest wins, missing values lose), never by row order.
    """
    seen = frame[["recorded_at", TABLES[table][2]]].max(axis=1)
    ranked = frame.assign(_seen=seen).sort_values([order, "_seen", *values], na_position="first", kind="stable")
    return ranked.drop_duplicates(ENTITY, keep="last").set_index(ENTITY).reindex(ids)


def _interval_state(listings: pd.DataFrame, t: pd.Timestamp) -> dict[str, pd.Series]:
    """In force at `t` (visible, and not yet ended), days since the latest start, starts in 365 days."""
    in_force = listings[listings["removed_at"].isna() | (listings["removed_at"] > t)]
    return {
        "active": (in_force.groupby(ENTITY, observed=False).size() > 0).astype("int8"),
        "days_since_start": listings.groupby(ENTITY, observed=False)["age"].min(),
        "starts_365d": _window(listings, 365)["count"],
    }


def _surge(frame: pd.DataFrame, metric: str, recent: int, baseline: int, where: pd.Series | None = None) -> pd.Series:
    """Daily rate over the last `recent` days / daily rate over the `baseline` days before them."""
    values = ["cents"] if metric == "cents" else None
    now = _window(frame, recent, values=values, where=where)[metric]
    before = _window(frame, recent + baseline, recent, values=values, where=where)[metric]
    return _ratio(now / recent, before / baseline)


def _trend(frame: pd.DataFrame, metric: str, months: int = 6, where: pd.Series | None = None) -> dict[str, pd.Series]:
    """Least-squares slope of 30-day buckets (bucket j at x = -j) relative to their mean, and last / mean."""
    values = ["cents"] if metric == "cents" else None
    buckets = [_window(frame, 30 * (j + 1), 30 * j, values=values, where=where)[metric] for j in range(months)]
    xs = [-j for j in range(months)]
    x_mean = sum(xs) / months
    total = buckets[0].astype("float64")
    for b in buckets[1:]:
        total = total + b
    y_mean = total / months
    cov = sum((x - x_mean) * (b - y_mean) for x, b in zip(xs, buckets, strict=True))
    var = sum((x - x_mean) ** 2 for x in xs)
    return {f"trend_{months}m": _ratio(cov / var, y_mean), "last_vs_mean": _ratio(buckets[0].astype("float64"), y_mean)}
