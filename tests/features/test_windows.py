"""Unit properties of the window-sum machinery that the oracle tests reach only by chance."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from features import asof
from features.asof import ENTITY, ENTITY_ID, AsOf, K
from features.store import TableStore
from features.windows import _add_into_cells
from tests.features.oracle import CATEGORIES


def test_cells_recurring_out_of_order_are_all_added() -> None:
    totals = {"m": np.zeros(5, dtype=np.int64)}
    _add_into_cells(totals, np.array([3, 1, 3, 3, 0, 1]), pl.DataFrame({"m": [1, 2, 4, 8, 16, 32]}))
    assert totals["m"].tolist() == [16, 34, 0, 13, 0]


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(-(10**12), 10**12)), max_size=200))
def test_adding_into_cells_equals_adding_row_by_row(rows: list[tuple[int, int]]) -> None:
    cells = np.array([c for c, _ in rows], dtype=np.int64)
    values = [v for _, v in rows]
    totals = {"m": np.full(31, 7, dtype=np.int64)}
    _add_into_cells(totals, cells, pl.DataFrame({"m": values}, schema={"m": pl.Int64}))
    expected = np.full(31, 7, dtype=np.int64)
    np.add.at(expected, cells, np.array(values, dtype=np.int64))
    assert totals["m"].tolist() == expected.tolist()


@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 5), st.integers(0, 3)), max_size=40, unique_by=lambda r: r[:2])
)
def test_carry_forward_takes_the_greatest_order_seen_so_far(rows: list[tuple[int, int, int]]) -> None:
    """Per entity and date index: the row of the greatest order at or before it, a later row winning a tie; entities
    whose first row comes late get nulls before it (never the previous entity's row)."""
    n_dates = 6
    view = AsOf(TableStore.from_frames({}), tuple(date(2026, 1, d) for d in range(1, n_dates + 1)), "x", codes=_CODES)
    best = pl.DataFrame(
        {ENTITY: [e for e, _, _ in rows], K: [k for _, k, _ in rows], "_order": [o for _, _, o in rows]},
        schema={ENTITY: pl.UInt32, K: pl.Int32, "_order": pl.Int64},
    ).with_row_index("row")
    got = view.carry_forward(best)
    expected = []
    for entity in sorted({e for e, _, _ in rows}):
        mine = sorted((k, o, i) for i, (e, k, o) in enumerate(rows) if e == entity)
        for k in range(n_dates):
            seen = [(o, kk, i) for kk, o, i in mine if kk <= k]
            expected.append((entity, k, max(seen)[2] if seen else None))
    assert got.select(ENTITY, K, "row").rows() == expected


LAGS = (0, 1, 2, 30, 31, 70, 71, 120)  # days from event to recording: rows a day apart, and rows never visible
_CODES = pl.DataFrame({ENTITY: [0]}, schema={ENTITY: pl.UInt32}).with_columns(pl.lit("e").alias(ENTITY_ID))


@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 90), st.integers(0, 40), st.sampled_from(CATEGORIES[:2])),
        max_size=40,
    )
)
def test_latest_event_date_is_the_greatest_one_visible(rows: list[tuple[int, int, int, str]]) -> None:
    """Recency (`latest` of the order key alone): per entity and as-of date, the greatest event date among the
    filtered rows that happened and were recorded by then; entities with no such row by the last date are absent."""
    start = date(2026, 1, 1)
    dates = tuple(start + timedelta(days=d) for d in (20, 50, 80, 120))
    complaints = _complaints([(e, d, lag) for e, d, lag, _ in rows], [c for *_, c in rows], [1.0] * len(rows), start)
    codes = pl.DataFrame({ENTITY_ID: ["e0", "e1", "e2"]}).with_row_index(ENTITY)
    view = AsOf(TableStore.from_frames({"complaints": complaints}), dates, "enterprises", codes=codes)
    where = pl.col("category") == CATEGORIES[0]
    got = view.latest("complaints", ["event_at"], where=where).sort(ENTITY, K)
    expected = []
    for entity in range(3):
        seen = [
            [start + timedelta(days=d) for e, d, lag, c in rows if e == entity and c == CATEGORIES[0] and d + lag <= t]
            for t in (20, 50, 80, 120)
        ]
        if seen[-1]:
            expected += [(entity, k, max(days) if days else None) for k, days in enumerate(seen)]
    assert got.select(ENTITY, K, "event_at").rows() == expected


@example([(0, 2, 0, 3), (0, 2, 1, None)])  # the correction recorded a day later wins, null as it is
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 4), st.sampled_from(LAGS), st.one_of(st.none(), st.integers(0, 3))),
        max_size=40,
    )
)
def test_latest_row_resolves_ties_by_visibility_then_values(rows: list[tuple[int, int, int, int | None]]) -> None:
    """`latest` of other columns: at each as-of date the visible row of the greatest order; among rows of equal
    order the one visible from a later day, then the greatest values (null lowest). Ties are common here. A build
    of the last date alone gives the same answer there: the tie-break never depends on the other as-of dates."""
    start = date(2026, 1, 1)
    cuts = (20, 50, 80, 120)
    amounts = [None if a is None else float(a) for *_, a in rows]
    complaints = _complaints([(e, d, lag) for e, d, lag, _ in rows], [CATEGORIES[0]] * len(rows), amounts, start)
    codes = pl.DataFrame({ENTITY_ID: ["e0", "e1", "e2"]}).with_row_index(ENTITY)
    dates = tuple(start + timedelta(days=d) for d in cuts)
    view = AsOf(TableStore.from_frames({"complaints": complaints}), dates, "enterprises", codes=codes)
    got = view.latest("complaints", ["amount"]).sort(ENTITY, K)
    expected = []
    for entity in range(3):
        # (order, day the row became visible, amount with nulls lowest) for each of the entity's rows
        keyed = [(d, d + lag, a is not None, a or 0, a) for e, d, lag, a in rows if e == entity]
        if any(seen <= cuts[-1] for _, seen, *_ in keyed):
            for t in cuts:
                visible = [key for key in keyed if key[1] <= t]
                expected.append((entity, cuts.index(t), max(visible)[-1] if visible else None))
    expected = [(e, k, None if a is None else float(a)) for e, k, a in expected]
    assert got.select(ENTITY, K, "amount").rows() == expected
    one_date = AsOf(view.store, dates[-1:], "enterprises", codes=codes).latest("complaints", ["amount"])
    last = [(e, 0, a) for e, k, a in expected if k == len(cuts) - 1]
    assert one_date.sort(ENTITY).select(ENTITY, K, "amount").rows() == last


def _complaints(
    rows: list[tuple[int, int, int]], categories: list[str], amounts: list[float | None], start: date
) -> pl.DataFrame:
    """Complaints of entities `e<n>`, each (entity, event day after `start`, days until recorded)."""
    return pl.DataFrame(
        {
            "complaint_id": [f"C{i}" for i in range(len(rows))],
            "uscc": [f"e{e}" for e, _, _ in rows],
            "channel": ["12315"] * len(rows),
            "event_at": [start + timedelta(days=d) for _, d, _ in rows],
            "recorded_at": [start + timedelta(days=d + lag) for _, d, lag in rows],
            "category": categories,
            "amount": amounts,
            "text": ["t"] * len(rows),
        },
        schema_overrides={
            "uscc": pl.String,
            "event_at": pl.Date,
            "recorded_at": pl.Date,
            "category": pl.String,
            "amount": pl.Float64,
        },
    )


def test_latest_by_a_float_order_is_the_same_whatever_the_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders that are not short integers or dates are compared by their rank among the whole table's orders: a rank
    within each chunk would compare rows of different chunks by unrelated numbers."""
    start = date(2026, 1, 1)
    rows = [(0, d, 0) for d in range(6)]  # one entity, a row a day; in chunks of 2, every chunk ranks its rows 1, 2
    amounts = [30.0, 40.0, 1.0, 2.0, 10.0, 20.0]
    store = TableStore.from_frames({"complaints": _complaints(rows, [CATEGORIES[0]] * 6, amounts, start)})
    codes = pl.DataFrame({ENTITY_ID: ["e0"]}).with_row_index(ENTITY)
    dates = (start + timedelta(days=3), start + timedelta(days=10))

    def latest() -> list[tuple[int, int, date]]:
        view = AsOf(store, dates, "enterprises", codes=codes)
        return view.latest("complaints", ["event_at"], order_by="amount").select(ENTITY, K, "event_at").rows()

    whole = latest()  # the row of the greatest amount, 40.0 (day 1), at both dates
    monkeypatch.setattr(asof, "CHUNK_ROWS", 2)
    assert latest() == whole == [(0, 0, start + timedelta(days=1)), (0, 1, start + timedelta(days=1))]
