"""A naive pure-Python oracle for the feature blocks: plain loops over lists of dicts, written from the definitions.

The oracle never touches the engine's computing code or polars (only `to_store`, at the end, hands the same rows to
the engine): tables are lists of row dicts and every value is recomputed for one (entity, as-of date) at a time,
straight from the definitions of ARCHITECTURE.md "Point-in-time correctness":

- As of `t` a row is visible iff `recorded_at <= t` and `event_at <= t`.
- Window(end, start) holds visible rows with `event_at` in `(t - end, t - start]`.
- `latest` is the visible row with the greatest ordering value (generated data avoids ties).
- An interval is active at `t` iff `valid_from <= t`, `recorded_at <= t` and (`valid_to` is null or `t < valid_to`).
- Amounts are summed as integer cents.

`expected_block` reads a block's recorded parameters (`FeatureBlock.params`) to know what to compute, and the oracle
of the prepaid domain blocks (escrow, liability, legal_rep) is written from their documented meaning.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Any

Row = dict[str, Any]
Tables = dict[str, list[Row]]
Values = dict[str, Any]

ENTITY_KEY = "uscc"

# table -> (event_at, recorded_at, valid_from, valid_to): the clocks, restated here on purpose.
CLOCKS: dict[str, tuple[str, str, str | None, str | None]] = {
    "enterprises": ("registered_at", "recorded_at", None, None),
    "complaints": ("event_at", "recorded_at", None, None),
    "prepaid_transactions": ("txn_date", "recorded_at", None, None),
    "escrow_balances": ("balance_date", "recorded_at", None, None),
    "legal_rep_history": ("valid_from", "recorded_at", "valid_from", "valid_to"),
    "abnormal_list": ("listed_at", "recorded_at", "listed_at", "removed_at"),
    "closures": ("closed_at", "recorded_at", None, None),
}

INFLOW = ("sale", "recharge")
FOREVER_DAYS = 36_500
ESCROW_SHARE = 0.2  # Shaoxing line, as in features/blocks/prepaid.py
MATERIAL_INTAKE_YUAN = 100_000
ELDERLY_AGE = 60


# --- primitives -------------------------------------------------------------------------------------------------


def to_cents(amount: float | None) -> int | None:
    return None if amount is None else round(amount * 100)


def ratio(numerator: float | int | None, denominator: float | int | None) -> float | None:
    """numerator / denominator; null when either is null or the denominator is zero."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def visible(tables: Tables, table: str, entity: str, t: date, keep: Callable[[Row], bool] | None = None) -> list[Row]:
    event_at, recorded_at, _, _ = CLOCKS[table]
    return [
        r
        for r in tables.get(table, [])
        if r[ENTITY_KEY] == entity and r[recorded_at] <= t and r[event_at] <= t and (keep is None or keep(r))
    ]


def in_window(
    tables: Tables,
    table: str,
    entity: str,
    t: date,
    end: int,
    start: int = 0,
    keep: Callable[[Row], bool] | None = None,
) -> list[Row]:
    """Visible rows with event_at in (t - end, t - start]."""
    event_at = CLOCKS[table][0]
    lower, upper = t - timedelta(days=end), t - timedelta(days=start)
    return [r for r in visible(tables, table, entity, t, keep) if lower < r[event_at] <= upper]


def latest(
    tables: Tables,
    table: str,
    entity: str,
    t: date,
    order_by: str | None = None,
    keep: Callable[[Row], bool] | None = None,
) -> Row | None:
    rows = visible(tables, table, entity, t, keep)
    if not rows:
        return None
    order = order_by or CLOCKS[table][0]
    best = rows[0]
    for r in rows[1:]:
        if r[order] > best[order]:
            best = r
    return best


def active(tables: Tables, table: str, entity: str, t: date, keep: Callable[[Row], bool] | None = None) -> list[Row]:
    _, recorded_at, valid_from, valid_to = CLOCKS[table]
    assert valid_from is not None and valid_to is not None
    return [
        r
        for r in tables.get(table, [])
        if r[ENTITY_KEY] == entity
        and r[valid_from] <= t
        and r[recorded_at] <= t
        and (r[valid_to] is None or t < r[valid_to])
        and (keep is None or keep(r))
    ]


def keep_in(column: str | None, values: Sequence[str]) -> Callable[[Row], bool] | None:
    if not column:
        return None
    wanted = set(values)
    return lambda r: r[column] in wanted


def metric_total(rows: Iterable[Row], value: str | None) -> int:
    """Count of rows (no value) or the sum of the value in cents (nulls add nothing)."""
    if value is None:
        return sum(1 for _ in rows)
    return sum(c for r in rows if (c := to_cents(r[value])) is not None)


def days_between(earlier: date | None, later: date) -> int | None:
    return None if earlier is None else (later - earlier).days


# --- generic blocks -------------------------------------------------------------------------------------------------


def window_stats(tables: Tables, entity: str, t: date, p: dict[str, Any]) -> Values:
    keep = keep_in(p["filter_column"], p["filter_values"])
    out: Values = {}
    for days in p["windows"]:
        rows = in_window(tables, p["table"], entity, t, days, keep=keep)
        out[f"count_{days}d"] = len(rows)
        if p["value"]:
            total = metric_total(rows, p["value"]) / 100
            out[f"sum_{days}d"] = total
            out[f"mean_{days}d"] = ratio(total, len(rows))
    return out


def window_surge(tables: Tables, entity: str, t: date, p: dict[str, Any]) -> Values:
    keep = keep_in(p["filter_column"], p["filter_values"])
    recent_days, baseline_days = p["recent_days"], p["baseline_days"]
    recent = metric_total(in_window(tables, p["table"], entity, t, recent_days, keep=keep), p["value"])
    before_rows = in_window(tables, p["table"], entity, t, recent_days + baseline_days, recent_days, keep=keep)
    before = metric_total(before_rows, p["value"])
    rate = None if before == 0 else (recent / recent_days) / (before / baseline_days)
    return {f"surge_{recent_days}_{baseline_days}d": rate}


def monthly_trend(tables: Tables, entity: str, t: date, p: dict[str, Any]) -> Values:
    keep = keep_in(p["filter_column"], p["filter_values"])
    months = p["months"]
    # Bucket j holds the 30 days (t - 30(j+1), t - 30j]; time runs forward as j falls, so bucket j sits at x = -j.
    ys = [
        metric_total(in_window(tables, p["table"], entity, t, 30 * (j + 1), 30 * j, keep=keep), p["value"])
        for j in range(months)
    ]
    xs = [-j for j in range(months)]
    x_mean = sum(xs) / months
    y_mean = sum(ys) / months
    cov = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True))
    var = sum((x - x_mean) ** 2 for x in xs)
    return {f"trend_{months}m": ratio(cov / var, y_mean), "last_vs_mean": ratio(ys[0], y_mean)}


def recency(tables: Tables, entity: str, t: date, p: dict[str, Any]) -> Values:
    keep = keep_in(p["filter_column"], p["filter_values"])
    event_at = CLOCKS[p["table"]][0]
    dates = [r[event_at] for r in visible(tables, p["table"], entity, t, keep)]
    return {"days_since_last": days_between(max(dates), t) if dates else None}


def category_shares(tables: Tables, entity: str, t: date, p: dict[str, Any]) -> Values:
    window = p["window_days"]
    rows = in_window(tables, p["table"], entity, t, window)
    return {
        f"share_{value}_{window}d": ratio(sum(1 for r in rows if r[p["column"]] == value), len(rows))
        for value in p["categories"]
    }


def interval_state(tables: Tables, entity: str, t: date, p: dict[str, Any]) -> Values:
    keep = keep_in(p["filter_column"], p["filter_values"])
    table, window = p["table"], p["change_window_days"]
    start = CLOCKS[table][2]
    starts = [r[start] for r in visible(tables, table, entity, t, keep)]
    return {
        "active": 1 if active(tables, table, entity, t, keep) else 0,
        "days_since_start": days_between(max(starts), t) if starts else None,
        f"starts_{window}d": len(in_window(tables, table, entity, t, window, keep=keep)),
    }


def static_attributes(tables: Tables, entity: str, t: date, p: dict[str, Any]) -> Values:
    table = p["table"]
    row = latest(tables, table, entity, t, order_by=CLOCKS[table][1])
    out: Values = {}
    if p["age_from"]:
        out["age_days"] = None if row is None else days_between(row[p["age_from"]], t)
    for column in p["numbers"]:
        out[f"log_{column}"] = None if row is None or row[column] is None else math.log1p(row[column])
    for column in p["categories"]:
        out[column] = None if row is None else row[column]
    return out


def peer_relative(
    tables: Tables, entities: Sequence[str], t: date, p: dict[str, Any], base: Any, profile: Any
) -> dict[str, Values]:
    """value / median(value of the entities of the same peer group at t); null when the group is unknown or 0.

    Peers are the entities whose profile row is visible at t; an entity without one has no peer group.
    """
    column, by = p["column"], p["by"]
    default = next(c.default for c in base.columns if c.name == column)
    out_name = f"{column}_peer_ratio"
    groups: dict[str, tuple[Any, ...] | None] = {}
    values: dict[str, Any] = {}
    for entity in entities:
        attrs = static_attributes(tables, entity, t, dict(profile.params))
        group = tuple(attrs[b] for b in by)
        groups[entity] = None if any(g is None for g in group) else group
        value = expected_values(base, tables, [entity], t)[entity][column]
        values[entity] = default if value is None else value
    result: dict[str, Values] = {}
    for entity in entities:
        group = groups[entity]
        if group is None:
            result[entity] = {out_name: None}
            continue
        peers = [values[e] for e in entities if groups[e] == group and values[e] is not None]
        median = statistics.median(peers) if peers else None
        result[entity] = {out_name: ratio(values[entity], median)}
    return result


# --- prepaid domain blocks ------------------------------------------------------------------------------------------


def signed_liability_cents(tables: Tables, entity: str, t: date, end: int, start: int = 0) -> int:
    """Money taken in (sales, recharges) minus money paid out (redemptions, refunds), in cents."""
    rows = in_window(tables, "prepaid_transactions", entity, t, end, start)
    return sum(to_cents(r["amount"]) * (1 if r["kind"] in INFLOW else -1) for r in rows)


def escrow(tables: Tables, entity: str, t: date) -> Values:
    sold = in_window(tables, "prepaid_transactions", entity, t, 365)
    intake = sum(to_cents(r["amount"]) for r in sold if r["kind"] in INFLOW) / 100
    last = latest(tables, "escrow_balances", entity, t)
    balance = None if last is None else last["balance"]
    prior_rows = in_window(tables, "escrow_balances", entity, t, 180, 90)
    prior = ratio(metric_total(prior_rows, "balance") / 100, len(prior_rows))
    # No known escrow balance counts as an empty escrow account against the year's intake.
    coverage = (balance or 0.0) / intake if intake > 0 else None
    material = intake >= MATERIAL_INTAKE_YUAN
    return {
        "balance": balance,
        "coverage": coverage,
        "below_line": 1 if coverage is not None and coverage < ESCROW_SHARE and material else 0,
        "balance_vs_prior": ratio(balance, prior),
    }


def liability(tables: Tables, entity: str, t: date) -> Values:
    now = signed_liability_cents(tables, entity, t, FOREVER_DAYS)
    before = signed_liability_cents(tables, entity, t, FOREVER_DAYS, 90)
    flows = in_window(tables, "prepaid_transactions", entity, t, 90)
    inflow = sum(to_cents(r["amount"]) for r in flows if r["kind"] in INFLOW)
    refund = sum(to_cents(r["amount"]) for r in flows if r["kind"] == "refund")
    return {
        "outstanding": now / 100,
        "growth_90d": ratio(now - before, before),
        "refund_ratio_90d": ratio(refund, inflow),
    }


def legal_rep(tables: Tables, entity: str, t: date) -> Values:
    """The representative of the latest term known at t (greatest valid_from among visible terms).

    A change is a term that began within 365 days and had an earlier term before it; the first term ever is the
    founding, not a change. The flag marks a change to a non-local person aged 60+ (age at start plus whole years).
    """
    terms = visible(tables, "legal_rep_history", entity, t)
    current = latest(tables, "legal_rep_history", entity, t)
    n_recent = len(in_window(tables, "legal_rep_history", entity, t, 365))
    founding_recent = 1 if terms and n_recent == len(terms) else 0
    changes = max(0, n_recent - founding_recent)
    if current is None:
        return {
            "age": None,
            "is_local": None,
            "days_since_change": None,
            "changes_365d": changes,
            "elderly_nonlocal_change": 0,
        }
    days = (t - current["valid_from"]).days
    age = current["rep_age"] + math.floor(days / 365.25)
    flag = len(terms) > 1 and days <= 365 and age >= ELDERLY_AGE and not current["rep_is_local"]
    return {
        "age": age,
        "is_local": 1 if current["rep_is_local"] else 0,
        "days_since_change": days,
        "changes_365d": changes,
        "elderly_nonlocal_change": 1 if flag else 0,
    }


DOMAIN: dict[str, Callable[[Tables, str, date], Values]] = {
    "escrow": escrow,
    "liability": liability,
    "legal_rep": legal_rep,
}

GENERIC: dict[str, Callable[[Tables, str, date, dict[str, Any]], Values]] = {
    "window_stats": window_stats,
    "window_surge": window_surge,
    "monthly_trend": monthly_trend,
    "recency": recency,
    "category_shares": category_shares,
    "interval_state": interval_state,
    "static_attributes": static_attributes,
}


def generic_kind(block: Any) -> str | None:
    """Which generic constructor made a block, read from the parameter names it records."""
    keys = {k for k, _ in block.params}
    if not keys:
        return None
    for kind, marker in (
        ("peer_relative", "base"),
        ("window_surge", "recent_days"),
        ("monthly_trend", "months"),
        ("category_shares", "window_days"),
        ("interval_state", "change_window_days"),
        ("window_stats", "windows"),
        ("static_attributes", "age_from"),
    ):
        if marker in keys:
            return kind
    if keys == {"table", "filter_column", "filter_values"}:
        return "recency"
    raise ValueError(f"cannot tell which generic block {block.name!r} is from its params {sorted(keys)}")


def expected_values(block: Any, tables: Tables, entities: Sequence[str], t: date) -> dict[str, Values]:
    """The block's columns (inside-block names) for each entity at t, with the declared defaults for no data."""
    kind = generic_kind(block)
    params = dict(block.params)
    if kind == "peer_relative":
        base, profile = block.depends_on
        return peer_relative(tables, entities, t, params, base, profile)
    if kind is not None:
        return {e: GENERIC[kind](tables, e, t, params) for e in entities}
    if block.name in DOMAIN:
        return {e: DOMAIN[block.name](tables, e, t) for e in entities}
    raise KeyError(f"the oracle does not know block {block.name!r}")


def expected_frame(
    blocks: Sequence[Any], tables: Tables, entities: Sequence[str], dates: Sequence[date]
) -> dict[tuple[str, date], Values]:
    """Like `build_feature_frame`: `{(entity, as_of): {"<block>__<column>": value}}`."""
    out: dict[tuple[str, date], Values] = {(e, t): {} for e in entities for t in dates}
    for t in dates:
        for block in blocks:
            per_entity = expected_values(block, tables, entities, t)
            for e in entities:
                values = per_entity[e]
                missing = {c.name for c in block.columns} - set(values)
                if missing:
                    raise AssertionError(f"oracle for {block.name} lacks {sorted(missing)}")
                for c in block.columns:
                    out[(e, t)][f"{block.name}__{c.name}"] = values[c.name]
    return out


# --- random worlds --------------------------------------------------------------------------------------------------
# Small random tables as lists of row dicts, the input of both the oracle and (through `to_store`) the engine.

WORLD_START = date(2022, 1, 1)
WORLD_DAYS = 730
INDUSTRY_SECTOR = (("8393", "education_training"), ("8391", "education_training"), ("8930", "fitness"))
WORLD_TOWNS = ("城厢街道", "北干街道")
CATEGORIES = (
    "refund_refusal",
    "closure_absconding",
    "service_decline",
    "false_advertising",
    "contract_dispute",
    "other",
)
KINDS = ("sale", "recharge", "redemption", "refund")
REASONS = ("unreachable_address", "annual_report_missing", "false_information", "no_response")


def _day(rng: Any, low: int = 0, high: int = WORLD_DAYS) -> date:
    return WORLD_START + timedelta(days=rng.randint(low, high))


def _lag(rng: Any) -> timedelta:
    return timedelta(days=rng.choice((0, 0, 1, rng.randint(0, 60))))


def _cents(rng: Any, high: int) -> float:
    return rng.randint(1, high) / 100


def enterprise_row(rng: Any, uscc: str, registered_at: date, recorded_at: date) -> Row:
    industry, sector = rng.choice(INDUSTRY_SECTOR)
    return {
        "uscc": uscc,
        "name": f"企业{uscc[-4:]}",
        "industry_code": industry,
        "sector": sector,
        "town": rng.choice(WORLD_TOWNS),
        "grid_cell": "g1",
        "registered_at": registered_at,
        "registered_capital": float(rng.choice((0, 10_000, 500_000, rng.randint(1, 5_000_000)))),
        "status": "active",
        "deregistered_at": None,
        "prepaid_filing": True,
        "recorded_at": recorded_at,
    }


def random_world(rng: Any, entities: Sequence[str], max_events: int = 40) -> Tables:
    """Random but well-formed tables for the given entity ids (no ties in any `latest` ordering)."""
    tables: Tables = {name: [] for name in CLOCKS if name != "closures"}
    for uscc in entities:
        registered = _day(rng, -900, 400)
        recorded = registered + _lag(rng)
        for _ in range(rng.randint(1, 3)):
            tables["enterprises"].append(enterprise_row(rng, uscc, registered, recorded))
            recorded += timedelta(days=rng.randint(1, 400))
        # Legal representatives: consecutive terms, sometimes one ended without a known successor.
        start = registered
        n_terms = rng.randint(0, 3)
        for i in range(n_terms):
            nxt = start + timedelta(days=rng.randint(30, 500))
            last = i == n_terms - 1
            end = (None if rng.random() < 0.7 else nxt) if last else nxt
            row = {
                "uscc": uscc,
                "rep_name": f"代表{i}",
                "rep_id_number": "x",
                "rep_age": rng.randint(20, 75),
                "rep_is_local": rng.random() < 0.5,
                "valid_from": start,
                "valid_to": end,
                "recorded_at": start + _lag(rng),
            }
            tables["legal_rep_history"].append(row)
            start = nxt
        # Abnormal-list spells, not overlapping.
        listed = _day(rng, -200, 300)
        for _ in range(rng.randint(0, 2)):
            removed = None if rng.random() < 0.4 else listed + timedelta(days=rng.randint(1, 300))
            reason = rng.choice(REASONS)
            row = {"uscc": uscc, "listed_at": listed, "removed_at": removed, "reason": reason}
            tables["abnormal_list"].append(row | {"recorded_at": listed + _lag(rng)})
            if removed is None:
                break
            listed = removed + timedelta(days=rng.randint(1, 200))
        # Month-end escrow balances (unique dates per entity).
        if rng.random() < 0.8:
            months = sorted(rng.sample(range(24), rng.randint(1, 12)))
            for m in months:
                day = date(2022 + m // 12, m % 12 + 1, 28)
                row = {"uscc": uscc, "balance_date": day, "balance": _cents(rng, 50_000_000)}
                tables["escrow_balances"].append(row | {"recorded_at": day + _lag(rng)})
    for i in range(rng.randint(0, max_events)):
        event = _day(rng)
        amount = None if rng.random() < 0.25 else _cents(rng, 500_000)
        tables["complaints"].append(
            {
                "complaint_id": f"C{i:05d}",
                "uscc": rng.choice(entities),
                "channel": "12315",
                "event_at": event,
                "recorded_at": event + _lag(rng),
                "category": rng.choice(CATEGORIES),
                "amount": amount,
                "text": "t",
            }
        )
    seen: set[tuple[str, date, str]] = set()
    for _ in range(rng.randint(0, max_events * 2)):
        key = (rng.choice(entities), _day(rng), rng.choice(KINDS))
        if key in seen:
            continue
        seen.add(key)
        tables["prepaid_transactions"].append(
            {
                "uscc": key[0],
                "txn_date": key[1],
                "kind": key[2],
                "amount": _cents(rng, 2_000_000),
                "card_count": rng.randint(1, 20),
                "recorded_at": key[1] + _lag(rng),
            }
        )
    return tables


def late_rows(rng: Any, tables: Tables, t: date, new_entities: Sequence[str] = ()) -> Tables:
    """Random rows of every table recorded strictly after t, with any event dates (old ones too)."""
    entities = sorted({r["uscc"] for r in tables["enterprises"]}) + list(new_entities)

    def when() -> date:
        return t + timedelta(days=rng.randint(1, 700))

    def any_day() -> date:
        return _day(rng, -1200, WORLD_DAYS + 400)

    extra: Tables = {name: [] for name in tables}
    for uscc in entities:
        if rng.random() < 0.6 or uscc in new_entities:
            extra["enterprises"].append(enterprise_row(rng, uscc, any_day(), when()))
    for i in range(rng.randint(1, 12)):
        event = any_day()
        extra["complaints"].append(
            {
                "complaint_id": f"L{i:05d}",
                "uscc": rng.choice(entities),
                "channel": "12345",
                "event_at": event,
                "recorded_at": when(),
                "category": rng.choice(CATEGORIES),
                "amount": None if rng.random() < 0.2 else _cents(rng, 900_000),
                "text": "late",
            }
        )
    for _ in range(rng.randint(1, 12)):
        extra["prepaid_transactions"].append(
            {
                "uscc": rng.choice(entities),
                "txn_date": any_day(),
                "kind": rng.choice(KINDS),
                "amount": _cents(rng, 5_000_000),
                "card_count": 1,
                "recorded_at": when(),
            }
        )
    for _ in range(rng.randint(1, 4)):
        day = any_day()
        row = {"uscc": rng.choice(entities), "balance_date": day, "balance": _cents(rng, 90_000_000)}
        extra["escrow_balances"].append(row | {"recorded_at": when()})
    for _ in range(rng.randint(1, 3)):
        start = any_day()
        end = None if rng.random() < 0.5 else start + timedelta(days=rng.randint(1, 400))
        extra["legal_rep_history"].append(
            {
                "uscc": rng.choice(entities),
                "rep_name": "迟到",
                "rep_id_number": "y",
                "rep_age": rng.randint(20, 90),
                "rep_is_local": rng.random() < 0.5,
                "valid_from": start,
                "valid_to": end,
                "recorded_at": when(),
            }
        )
    for _ in range(rng.randint(1, 3)):
        listed = any_day()
        removed = None if rng.random() < 0.5 else listed + timedelta(days=rng.randint(1, 400))
        row = {"uscc": rng.choice(entities), "listed_at": listed, "removed_at": removed}
        extra["abnormal_list"].append(row | {"reason": rng.choice(REASONS), "recorded_at": when()})
    return extra


def merge(tables: Tables, extra: Tables) -> Tables:
    return {name: [*tables.get(name, []), *extra.get(name, [])] for name in {*tables, *extra}}


def to_store(tables: Tables) -> Any:
    """The engine's `TableStore` of the same rows (polars is used only here, to hand the rows to the engine)."""
    import polars as pl

    from features.contracts import get_contract
    from features.store import TableStore

    frames = {}
    for name, rows in tables.items():
        schema = get_contract(name).schema
        frames[name] = pl.DataFrame([{c: r[c] for c in schema} for r in rows], schema=schema)
    return TableStore.from_frames(frames)
