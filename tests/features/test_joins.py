"""The grid-cell joins of (entity_id, _k)-keyed frames agree with polars' hash joins."""

import polars as pl
from hypothesis import given
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.asof import ENTITY, KEYS, K, left_join, outer_join

cells = st.sets(st.tuples(st.integers(0, 6), st.integers(0, 3)), max_size=20)


def _frame(keys: set[tuple[int, int]], column: str) -> pl.DataFrame:
    """One row per key; a value made from the key, and a null now and then."""
    ordered = sorted(keys, key=lambda key: (key[1] * 7 + key[0] * 3) % 11)  # not in key order
    return pl.DataFrame(
        {
            ENTITY: [e for e, _ in ordered],
            K: [k for _, k in ordered],
            column: [None if (e + k) % 5 == 0 else e * 10 + k for e, k in ordered],
        },
        schema={ENTITY: pl.UInt32, K: pl.Int32, column: pl.Int64},
    )


@given(cells, cells)
def test_left_join_is_a_left_join_in_the_left_order(left_keys: set, right_keys: set) -> None:
    left, right = _frame(left_keys, "a"), _frame(right_keys, "b")
    expected = left.join(right, on=list(KEYS), how="left", maintain_order="left")
    assert_frame_equal(left_join(left, right), expected)


@given(cells, cells)
def test_left_join_of_text_ids_is_the_same_join(left_keys: set, right_keys: set) -> None:
    left, right = (
        frame.with_columns(pl.format("id{}", ENTITY).alias(ENTITY))
        for frame in (_frame(left_keys, "a"), _frame(right_keys, "b"))
    )
    expected = left.join(right, on=list(KEYS), how="left", maintain_order="left")
    assert_frame_equal(left_join(left, right), expected)


@given(cells, cells)
def test_outer_join_is_a_full_join_sorted_by_key(left_keys: set, right_keys: set) -> None:
    left, right = _frame(left_keys, "a"), _frame(right_keys, "b")
    expected = left.join(right, on=list(KEYS), how="full", coalesce=True).sort(KEYS)
    assert_frame_equal(outer_join([left, right]), expected)
