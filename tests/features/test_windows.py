"""Unit properties of the window-sum machinery that the oracle tests reach only by chance."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from features.windows import _add_into_cells


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
