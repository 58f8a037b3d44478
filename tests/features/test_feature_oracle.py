"""The feature engine against a naive pure-Python oracle (tests/features/oracle.py), on random small worlds.

Every generic block (with and without filters and values) and the prepaid domain blocks are compared value by value,
at one and at many as-of dates, including dates before any event and after all of them. Floats must agree to a
relative 1e-9; nulls must be nulls.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from typing import Any

import oracle
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import make_uscc

from features.assembly import build_feature_frame
from features.blocks import base
from features.blocks.generic import (
    category_shares,
    interval_state,
    monthly_trend,
    peer_relative,
    recency,
    static_attributes,
    window_stats,
    window_surge,
)
from features.blocks.prepaid import PREPAID_FEATURE_SET, abnormal_list, card_sales, complaints_peer, profile

TXN = "prepaid_transactions"


def _unregistered_extra_blocks() -> tuple[base.FeatureBlock, ...]:
    """More parameterisations of the generic blocks, kept out of the global catalogue after they are built."""
    base.registered_blocks()  # the shipped blocks are registered before the snapshot
    snapshot = dict(base._BLOCKS)
    try:
        return (
            window_stats("oracle_txn_counts", TXN, (7, 400), label_zh="交易", label_en="transactions"),
            window_stats(
                "oracle_complaint_amounts",
                "complaints",
                (60,),
                value="amount",
                filter_column="category",
                filter_values=("refund_refusal", "other"),
                label_zh="投诉",
                label_en="complaints",
            ),
            window_surge(
                "oracle_outflow_surge",
                TXN,
                60,
                120,
                filter_column="kind",
                filter_values=("refund", "redemption"),
                label_zh="流出",
                label_en="outflows",
            ),
            window_surge(
                "oracle_amount_surge", "complaints", 45, 90, value="amount", label_zh="金额", label_en="amount"
            ),
            monthly_trend(
                "oracle_redemption_trend",
                TXN,
                3,
                value="amount",
                filter_column="kind",
                filter_values=("redemption",),
                label_zh="核销",
                label_en="redemptions",
            ),
            monthly_trend("oracle_complaint_trend", "complaints", 12, label_zh="投诉", label_en="complaints"),
            recency(
                "oracle_bad_recency",
                "complaints",
                filter_column="category",
                filter_values=("closure_absconding", "refund_refusal"),
                label_zh="投诉",
                label_en="complaint",
            ),
            recency("oracle_escrow_recency", "escrow_balances", label_zh="存管", label_en="escrow report"),
            category_shares(
                "oracle_kind_mix",
                TXN,
                "kind",
                {"sale": "售卡", "refund": "退款"},
                120,
                label_zh="交易",
                label_en="txns",
            ),
            interval_state(
                "oracle_rep_state", "legal_rep_history", change_window_days=180, label_zh="任职", label_en="rep"
            ),
            interval_state(
                "oracle_abnormal_some",
                "abnormal_list",
                change_window_days=90,
                filter_column="reason",
                filter_values=("unreachable_address", "no_response"),
                label_zh="异常",
                label_en="abnormal",
            ),
            static_attributes(
                "oracle_capital",
                "enterprises",
                age_from=None,
                numbers={"registered_capital": ("注册资本", "capital")},
                categories={"industry_code": ("行业代码", "industry")},
            ),
            peer_relative("oracle_sector_peer", card_sales, "count_30d", profile, by=("sector",)),
        )
    finally:
        base._BLOCKS.clear()
        base._BLOCKS.update(snapshot)


EXTRA_BLOCKS = _unregistered_extra_blocks()
ALL_BLOCKS = (*PREPAID_FEATURE_SET, *EXTRA_BLOCKS)
BEFORE_ANYTHING = date(2018, 1, 1)
AFTER_EVERYTHING = date(2027, 1, 1)
MONTH_ENDS = tuple(date(y, m, 28) for y in range(2021, 2025) for m in range(1, 13, 2))


def _same(actual: Any, expected: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, str) or isinstance(actual, str):
        return actual == expected
    if isinstance(expected, int) and isinstance(actual, int):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12)


def assert_matches_oracle(
    blocks: tuple[base.FeatureBlock, ...], tables: oracle.Tables, dates: list[date], entities: list[str] | None = None
) -> None:
    everyone = sorted({r["uscc"] for r in tables["enterprises"]})
    frame = build_feature_frame(blocks, oracle.to_store(tables), dates, entities=entities)
    wanted = everyone if entities is None else entities
    expected = oracle.expected_frame(blocks, tables, everyone, sorted(set(dates)))
    keys = [(r["entity_id"], r["as_of"]) for r in frame.select("entity_id", "as_of").rows(named=True)]
    assert sorted(keys) == sorted((e, t) for e in wanted for t in set(dates)), "one row per (entity, as-of)"
    columns = [c for c in frame.columns if c not in ("entity_id", "as_of")]
    assert columns == [f"{b.name}__{c.name}" for b in blocks for c in b.columns]
    mismatches = []
    for row in frame.rows(named=True):
        want = expected[(row["entity_id"], row["as_of"])]
        for column in columns:
            if not _same(row[column], want[column]):
                mismatches.append(
                    f"{row['entity_id']} @ {row['as_of']}: {column} engine={row[column]!r} oracle={want[column]!r}"
                )
    assert not mismatches, f"{len(mismatches)} mismatches, e.g.:\n" + "\n".join(mismatches[:15])


def _entities(n: int) -> list[str]:
    return [make_uscc(100 + 7 * i) for i in range(n)]


# --- random worlds --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_many_dates_match_oracle(seed: int) -> None:
    rng = random.Random(seed)
    tables = oracle.random_world(rng, _entities(rng.randint(2, 5)))
    dates = [BEFORE_ANYTHING, *MONTH_ENDS, AFTER_EVERYTHING]
    dates += [oracle.WORLD_START + timedelta(days=rng.randint(-100, 830)) for _ in range(5)]
    assert_matches_oracle(ALL_BLOCKS, tables, sorted(set(dates)))


@pytest.mark.parametrize("seed", range(4))
def test_single_date_matches_oracle(seed: int) -> None:
    rng = random.Random(1000 + seed)
    tables = oracle.random_world(rng, _entities(4))
    assert_matches_oracle(ALL_BLOCKS, tables, [oracle.WORLD_START + timedelta(days=rng.randint(0, 800))])


@pytest.mark.parametrize("when", [BEFORE_ANYTHING, AFTER_EVERYTHING])
def test_dates_outside_the_data_match_oracle(when: date) -> None:
    tables = oracle.random_world(random.Random(7), _entities(3))
    assert_matches_oracle(ALL_BLOCKS, tables, [when])


def test_subset_of_entities_matches_oracle() -> None:
    rng = random.Random(11)
    entities = _entities(5)
    tables = oracle.random_world(rng, entities)
    assert_matches_oracle(ALL_BLOCKS, tables, list(MONTH_ENDS[::3]), entities=[entities[3], entities[0]])


@pytest.mark.parametrize("shuffled", [False, True])
def test_tables_read_and_summed_in_small_chunks_match_oracle(monkeypatch: pytest.MonkeyPatch, shuffled: bool) -> None:
    """Big tables are coded and summed a few million rows at a time; chunks of 5 rows (with an entity's rows spread
    over many chunks, or scattered through the table) must give the same features."""
    from features import asof, windows

    monkeypatch.setattr(asof, "CHUNK_ROWS", 5)
    monkeypatch.setattr(windows, "SUM_CHUNK_ROWS", 5)
    rng = random.Random(23)
    tables = oracle.random_world(rng, _entities(4))
    if shuffled:
        for rows in tables.values():
            rng.shuffle(rows)
    assert_matches_oracle(ALL_BLOCKS, tables, [BEFORE_ANYTHING, *MONTH_ENDS[::2]])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rng=st.randoms(use_true_random=False),
    n_entities=st.integers(1, 5),
    dates=st.lists(st.dates(date(2019, 1, 1), date(2025, 6, 30)), min_size=1, max_size=6, unique=True),
)
def test_random_worlds_match_oracle(rng: random.Random, n_entities: int, dates: list[date]) -> None:
    tables = oracle.random_world(rng, _entities(n_entities), max_events=25)
    assert_matches_oracle(ALL_BLOCKS, tables, sorted(dates))


# --- minimal cases, each pinning one definition ---------------------------------------------------------------------

A, B, C = make_uscc(1), make_uscc(2), make_uscc(3)


def _world(**tables: list[oracle.Row]) -> oracle.Tables:
    world: oracle.Tables = {name: [] for name in oracle.CLOCKS if name != "closures"}
    world["enterprises"] = [
        oracle.enterprise_row(random.Random(i), uscc, date(2020, 1, 1), date(2020, 1, 1))
        for i, uscc in enumerate((A, B))
    ]
    world.update(tables)
    return world


def _value(tables: oracle.Tables, column: str, t: date, entity: str = A) -> Any:
    blocks = tuple(b for b in ALL_BLOCKS if column.startswith(f"{b.name}__"))
    frame = build_feature_frame(blocks, oracle.to_store(tables), [t])
    return frame.filter(pl.col("entity_id") == entity)[column].item()


def test_open_interval_without_end_is_active() -> None:
    """An abnormal-list spell with no removal date (removed_at null) is in force from its start onwards."""
    spell = {"uscc": A, "listed_at": date(2024, 1, 10), "removed_at": None, "reason": "no_response"}
    tables = _world(abnormal_list=[spell | {"recorded_at": date(2024, 1, 10)}])
    assert oracle.interval_state(tables, A, date(2024, 6, 1), dict(abnormal_list.params))["active"] == 1
    assert _value(tables, "abnormal_list__active", date(2024, 6, 1)) == 1


def test_window_edges_and_knowledge_clock() -> None:
    """Window(30) holds event_at in (t-30, t], and only rows recorded by t (knowledge at t, not at t-start)."""
    t = date(2024, 3, 31)
    rows = [
        {"event_at": t - timedelta(days=30), "recorded_at": t - timedelta(days=30)},  # just outside
        {"event_at": t - timedelta(days=29), "recorded_at": t},  # inside, recorded on t
        {"event_at": t, "recorded_at": t},  # inside, on t
        {"event_at": t - timedelta(days=5), "recorded_at": t + timedelta(days=1)},  # not known yet
    ]
    complaints = [
        r | {"complaint_id": str(i), "uscc": A, "channel": "12315", "category": "other", "amount": 1.25, "text": ""}
        for i, r in enumerate(rows)
    ]
    tables = _world(complaints=complaints)
    assert _value(tables, "complaints__count_30d", t) == 2
    assert _value(tables, "complaints__sum_30d", t) == 2.5
    # At t+1 the window is (t-29, t+1]: the row of t-29 has left it, the one recorded on t+1 has arrived.
    assert _value(tables, "complaints__count_30d", t + timedelta(days=1)) == 2


def test_mean_counts_rows_without_amount() -> None:
    """mean = sum / count: a complaint without an amount counts, and adds nothing to the sum."""
    t = date(2024, 3, 31)
    complaints = [
        {"complaint_id": str(i), "uscc": A, "channel": "12315", "event_at": t, "recorded_at": t}
        | {"category": "other", "amount": amount, "text": ""}
        for i, amount in enumerate((10.10, None, 0.2))
    ]
    tables = _world(complaints=complaints)
    assert _value(tables, "complaints__mean_30d", t) == pytest.approx(10.30 / 3, rel=1e-12)
    assert _value(tables, "complaints__mean_30d", t, entity=B) is None


def test_peer_ratio_needs_a_known_peer_group() -> None:
    """An enterprise not yet visible at t (unknown sector and town) has no peer group: its peer ratio is null."""
    t = date(2024, 3, 31)
    late_firm = oracle.enterprise_row(random.Random(5), C, date(2024, 6, 1), date(2024, 6, 1))
    complaints = [
        {"complaint_id": str(i), "uscc": C, "channel": "12315", "event_at": t, "recorded_at": t}
        | {"category": "other", "amount": None, "text": ""}
        for i in range(2)
    ]
    tables = _world(complaints=complaints)
    tables["enterprises"] = [*tables["enterprises"], late_firm]
    expected = oracle.expected_values(complaints_peer, tables, [A, B, C], t)
    assert expected[C]["count_365d_peer_ratio"] is None
    blocks = (complaints_peer,)
    frame = build_feature_frame(blocks, oracle.to_store(tables), [t, date(2024, 12, 31)])
    at_t = frame.filter(pl.col("as_of") == t).sort("entity_id")
    assert at_t["complaints_peer__count_365d_peer_ratio"].to_list() == [
        expected[e]["count_365d_peer_ratio"] for e in sorted((A, B, C))
    ]
