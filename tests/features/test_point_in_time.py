"""Point-in-time properties of the whole prepaid feature set.

- Rows recorded after `t`, in any table and with any event dates (old ones too), never change a feature at `t`.
- Many as-of dates built at once equal each date built alone, exactly.
- Builds are deterministic, and do not depend on the order of input rows.
"""

from __future__ import annotations

import random
from datetime import date

import oracle
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from support import make_uscc

from features.assembly import build_feature_frame
from features.blocks.prepaid import PREPAID_FEATURE_SET

MONTHLY = [date(2022, m, 1) for m in range(3, 13)] + [date(2023, 1, 1), date(2023, 2, 1)]
NEWCOMER = make_uscc(9999)


def _entities(n: int) -> list[str]:
    return [make_uscc(500 + 13 * i) for i in range(n)]


def _build(tables: oracle.Tables, dates: list[date]) -> pl.DataFrame:
    return build_feature_frame(PREPAID_FEATURE_SET, oracle.to_store(tables), dates).sort("entity_id", "as_of")


def _known_by(frame: pl.DataFrame, t: date, entities: list[str]) -> pl.DataFrame:
    return frame.filter((pl.col("as_of") <= t) & pl.col("entity_id").is_in(entities)).sort("entity_id", "as_of")


def assert_late_rows_change_nothing(tables: oracle.Tables, extra: oracle.Tables, dates: list[date], t: date) -> None:
    for name, rows in extra.items():
        assert all(r["recorded_at"] > t for r in rows), f"late rows of {name} must be recorded after {t}"
    entities = sorted({r["uscc"] for r in tables["enterprises"]})
    before = _known_by(_build(tables, dates), t, entities)
    after = _known_by(_build(oracle.merge(tables, extra), dates), t, entities)
    assert before.height == len(entities) * sum(d <= t for d in dates)
    assert_frame_equal(after, before, check_exact=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rng=st.randoms(use_true_random=False),
    n_entities=st.integers(1, 4),
    dates=st.lists(st.dates(date(2019, 6, 1), date(2025, 6, 30)), min_size=1, max_size=5, unique=True),
    pick=st.integers(0, 4),
    newcomer=st.booleans(),
)
def test_rows_recorded_after_t_never_change_features_at_t(
    rng: random.Random, n_entities: int, dates: list[date], pick: int, newcomer: bool
) -> None:
    dates = sorted(dates)
    t = dates[pick % len(dates)]
    tables = oracle.random_world(rng, _entities(n_entities), max_events=25)
    extra = oracle.late_rows(rng, tables, t, new_entities=[NEWCOMER] if newcomer else [])
    assert_late_rows_change_nothing(tables, extra, dates, t)


@pytest.mark.parametrize("seed", range(3))
def test_late_rows_change_nothing_at_a_single_date(seed: int) -> None:
    rng = random.Random(seed)
    tables = oracle.random_world(rng, _entities(4))
    for t in (date(2021, 12, 31), date(2022, 11, 15), date(2024, 6, 30)):
        assert_late_rows_change_nothing(tables, oracle.late_rows(rng, tables, t, [NEWCOMER]), [t], t)


@pytest.mark.parametrize("seed", range(3))
def test_many_dates_at_once_equal_each_date_alone(seed: int) -> None:
    tables = oracle.random_world(random.Random(seed), _entities(4))
    together = _build(tables, MONTHLY)
    alone = pl.concat([_build(tables, [d]) for d in MONTHLY]).sort("entity_id", "as_of")
    assert together.height == 4 * len(MONTHLY)
    assert_frame_equal(together, alone, check_exact=True)


def test_builds_are_deterministic() -> None:
    tables = oracle.random_world(random.Random(42), _entities(5))
    assert_frame_equal(_build(tables, MONTHLY), _build(tables, MONTHLY), check_exact=True)


def test_input_row_order_does_not_matter() -> None:
    tables = oracle.random_world(random.Random(43), _entities(5))
    shuffler = random.Random(0)
    shuffled = {name: shuffler.sample(rows, len(rows)) for name, rows in tables.items()}
    assert_frame_equal(_build(shuffled, MONTHLY), _build(tables, MONTHLY), check_exact=True)


# --- minimal cases --------------------------------------------------------------------------------------------------


def _complaint(uscc: str, i: int, day: date) -> oracle.Row:
    return {"complaint_id": f"M{i}", "uscc": uscc, "channel": "12315", "event_at": day, "recorded_at": day} | {
        "category": "other",
        "amount": None,
        "text": "",
    }


def test_late_newcomer_does_not_change_peer_ratios() -> None:
    """A firm first recorded after t must not join any peer group at t, not even a group of firms unknown at t."""
    t, later = date(2024, 3, 31), date(2024, 12, 31)
    firms = [make_uscc(1), make_uscc(2)]
    rng = random.Random(3)
    tables: oracle.Tables = {name: [] for name in oracle.CLOCKS if name != "closures"}
    tables["enterprises"] = [
        oracle.enterprise_row(rng, firms[0], date(2020, 1, 1), date(2020, 1, 1)),
        oracle.enterprise_row(rng, firms[1], date(2024, 6, 1), date(2024, 6, 1)),  # registered after t
    ]
    tables["complaints"] = [_complaint(firms[1], i, t) for i in range(2)]
    newcomer = oracle.enterprise_row(rng, NEWCOMER, date(2024, 7, 1), date(2024, 7, 1))
    assert_late_rows_change_nothing(tables, {"enterprises": [newcomer]}, [t, later], t)


def test_yuan_sums_do_not_depend_on_the_number_of_dates() -> None:
    """Sums are integer cents turned into yuan by one fixed product: the same value whatever else is built alongside
    (polars divides by a scalar differently on one row and on many, so the engine never divides by a scalar)."""
    firm, t = make_uscc(1), date(2024, 3, 31)
    rng = random.Random(0)
    tables: oracle.Tables = {name: [] for name in oracle.CLOCKS if name != "closures"}
    tables["enterprises"] = [oracle.enterprise_row(rng, firm, date(2020, 1, 1), date(2020, 1, 1))]
    tables["prepaid_transactions"] = [
        {"uscc": firm, "txn_date": t, "kind": kind, "amount": amount, "card_count": 1, "recorded_at": t}
        for kind, amount in (("sale", 10_000.00), ("recharge", 10_958.35))
    ]
    alone = _build(tables, [t]).filter(pl.col("as_of") == t)["card_sales__sum_30d"].item()
    together = _build(tables, [date(2024, 1, 1), t]).filter(pl.col("as_of") == t)["card_sales__sum_30d"].item()
    assert alone == together
    assert alone == pytest.approx(20958.35, rel=1e-15)
