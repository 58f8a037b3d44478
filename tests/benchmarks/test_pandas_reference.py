"""The pandas baseline of the benchmark computes exactly what the polars engine computes (like is compared with like).

A small synthetic world is generated; the engine builds both as-of dates in one pass and the pandas reference builds
each date on its own. Every column must agree: floats to rtol 1e-9, nulls in the same places, categories as strings.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.pandas_reference import load_tables, pandas_features
from features.assembly import build_feature_frame
from features.blocks.prepaid import PREPAID_FEATURE_SET
from features.store import TableStore
from features.synthetic import generate_world

DATES = (date(2025, 12, 31), date(2026, 6, 30))
N_ENTERPRISES = 1_500


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench_world") / "world"
    generate_world(out, n_enterprises=N_ENTERPRISES, seed=11, progress=False)
    return out


@pytest.fixture(scope="module")
def engine(world: Path) -> pl.DataFrame:
    return build_feature_frame(PREPAID_FEATURE_SET, TableStore.from_folder(world), DATES)


def mismatches(expected: pl.DataFrame, actual: pd.DataFrame, rtol: float = 1e-9, atol: float = 1e-12) -> dict[str, str]:
    """Columns whose values differ (null-aware), with a few example entity ids.

    Floats are compared with `rtol`; the tiny `atol` only absorbs slopes that are exactly zero but come out as
    ~1e-17 from cancellation when the sums are taken in another order.
    """
    assert list(actual.columns) == expected.columns
    assert actual["entity_id"].tolist() == expected["entity_id"].to_list()
    problems = {}
    ids = np.asarray(expected["entity_id"].to_list(), dtype=object)
    for name in expected.columns[2:]:
        series = expected[name]
        if series.dtype == pl.String:
            want = np.asarray(series.to_list(), dtype=object)
            got = np.asarray([None if pd.isna(v) else str(v) for v in actual[name]], dtype=object)
            bad = want != got
        else:
            want = series.cast(pl.Float64).to_numpy()
            got = pd.to_numeric(actual[name], errors="raise").to_numpy(dtype="float64", na_value=np.nan)
            both = ~np.isnan(want) & ~np.isnan(got)
            close = np.zeros(len(want), dtype=bool)
            close[both] = np.isclose(want[both], got[both], rtol=rtol, atol=atol)
            bad = ~(close | (np.isnan(want) & np.isnan(got)))
        if bad.any():
            rows = np.flatnonzero(bad)[:3]
            problems[name] = f"{bad.sum()} rows, e.g. " + ", ".join(
                f"{ids[i]}: engine {want[i]!r} vs pandas {got[i]!r}" for i in rows
            )
    return problems


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_pandas_reference_equals_engine(world: Path, engine: pl.DataFrame, as_of: date) -> None:
    expected = engine.filter(pl.col("as_of") == as_of)
    actual = pandas_features(world, as_of)
    assert len(actual) == N_ENTERPRISES
    assert mismatches(expected, actual) == {}


def test_preloaded_tables_give_the_same_frame(world: Path) -> None:
    tables = load_tables(world)
    once = pandas_features(world, DATES[0], tables)
    pd.testing.assert_frame_equal(once, pandas_features(world, DATES[0]))
