"""Properties every registered feature block must have, whoever wrote it.

Complete metadata (owner, description, Chinese and English labels, kinds), `<block>__<column>` output names, one row
per (entity, as-of date), the same values whatever blocks are built with it, deterministic output, and no
look-ahead: rows recorded after `t` never change a value at `t`. Registering a different block under a taken name is
an error.
"""

from __future__ import annotations

import random
import re
import typing
from collections.abc import Iterator
from datetime import date

import oracle
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from support import make_uscc

from features.asof import KEYS, AsOf, Window
from features.assembly import build_feature_frame
from features.blocks import base
from features.blocks.base import ColumnKind, FeatureBlock, FeatureColumn, feature_block, registered_blocks
from features.blocks.generic import window_stats
from features.contracts import registered_contracts

BLOCKS = registered_blocks()
CJK = re.compile(r"[\u4e00-\u9fff]")
KINDS = set(typing.get_args(ColumnKind))
DATES = [date(2021, 12, 31), date(2022, 6, 30), date(2023, 3, 31), date(2023, 12, 31)]
CUTOFF = date(2023, 3, 31)
ENTITIES = [make_uscc(700 + 3 * i) for i in range(4)]


def _world() -> oracle.Tables:
    return oracle.random_world(random.Random(2024), ENTITIES)


WORLD = _world()
LATE = oracle.late_rows(random.Random(99), WORLD, CUTOFF, new_entities=[make_uscc(9999)])


def _tables_for(blocks: list[FeatureBlock], tables: oracle.Tables) -> oracle.Tables:
    """The world, with empty tables for any other table the blocks read."""
    return {name: list(tables.get(name, [])) for name in {*tables, *(t for block in blocks for t in block.tables)}}


def _build(block: FeatureBlock, tables: oracle.Tables, dates: list[date] = DATES) -> pl.DataFrame:
    store = oracle.to_store(_tables_for([block], tables))
    return build_feature_frame([block], store, dates).sort("entity_id", "as_of")


parametrize_blocks = pytest.mark.parametrize("block", list(BLOCKS.values()), ids=list(BLOCKS))


def test_the_prepaid_blocks_are_registered() -> None:
    from features.blocks.prepaid import PREPAID_FEATURE_SET

    assert {b.name for b in PREPAID_FEATURE_SET} <= set(BLOCKS)


@parametrize_blocks
def test_metadata_is_complete(block: FeatureBlock) -> None:
    assert block.owner.strip(), "a block needs an owner"
    assert block.description.strip(), "a block needs a description"
    assert block.tables, "a block declares the tables it reads"
    contracts = registered_contracts()
    assert set(block.tables) <= set(contracts), f"unknown tables {set(block.tables) - set(contracts)}"
    assert block.columns, "a block has at least one column"
    for column in block.columns:
        assert column.name.isidentifier() and "__" not in column.name, column.name
        assert CJK.search(column.label_zh), f"{column.name}: Chinese label {column.label_zh!r} has no CJK text"
        assert column.label_en.strip() and not CJK.search(column.label_en), f"{column.name}: English label"
        assert re.search(r"[A-Za-z]", column.label_en), f"{column.name}: English label {column.label_en!r}"
        assert column.kind in KINDS, f"{column.name}: kind {column.kind!r}"
        assert column.window_days is None or column.window_days > 0
    for dependency in block.depends_on:
        assert dependency.name in BLOCKS, f"dependency {dependency.name!r} is not registered"


@parametrize_blocks
def test_output_names(block: FeatureBlock) -> None:
    expected = [f"{block.name}__{c.name}" for c in block.columns]
    assert block.output_columns == expected
    assert _build(block, WORLD, DATES[:2]).columns == ["entity_id", "as_of", *expected]


@parametrize_blocks
def test_one_row_per_entity_and_date(block: FeatureBlock) -> None:
    store = oracle.to_store(_tables_for([block], WORLD))
    view = AsOf(store, tuple(DATES), "enterprises")
    raw = view.decode(block.run(view))
    assert sorted(raw.columns) == sorted([*KEYS, *(c.name for c in block.columns)])
    assert not raw.select(pl.struct(KEYS).is_duplicated().any()).item(), "the block returned duplicate keys"
    assert raw["_k"].is_between(0, len(DATES) - 1).all()
    assert set(raw["entity_id"].unique()) <= set(ENTITIES)
    frame = _build(block, WORLD)
    assert frame.height == len(ENTITIES) * len(DATES)
    assert frame.select("entity_id", "as_of").is_unique().all()


@parametrize_blocks
def test_defaults_fill_entities_without_data(block: FeatureBlock) -> None:
    frame = _build(block, WORLD, [date(2000, 1, 1)])  # before anything happened
    for column in block.columns:
        values = frame[block.output_name(column.name)].to_list()
        assert values == [column.default] * len(ENTITIES), f"{column.name}: {values} vs default {column.default!r}"


# Years after every event: only windows reaching back to the first events see any row.
FAR = date(2030, 12, 31)


@pytest.fixture(scope="module", params=[DATES, [FAR]], ids=["dates", "years later"])
def built_together(request: pytest.FixtureRequest) -> tuple[list[date], pl.DataFrame]:
    """Every registered block in one build: window sums of a table then come from one shared pass."""
    blocks = list(BLOCKS.values())
    frame = build_feature_frame(blocks, oracle.to_store(_tables_for(blocks, WORLD)), request.param)
    return request.param, frame.sort("entity_id", "as_of")


@parametrize_blocks
def test_values_do_not_depend_on_the_blocks_built_with_it(
    block: FeatureBlock, built_together: tuple[list[date], pl.DataFrame]
) -> None:
    """A shared pass answers for every entity with rows in reach of any of its windows; a block must make of
    entities whose own windows are empty what its defaults say, or its values would change with its company."""
    dates, together = built_together
    alone = _build(block, WORLD, dates)
    assert_frame_equal(alone, together.select(alone.columns), check_exact=True)


@parametrize_blocks
def test_deterministic(block: FeatureBlock) -> None:
    assert_frame_equal(_build(block, WORLD), _build(block, WORLD), check_exact=True)


@parametrize_blocks
def test_no_look_ahead(block: FeatureBlock) -> None:
    def known_by_cutoff(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter((pl.col("as_of") <= CUTOFF) & pl.col("entity_id").is_in(ENTITIES))

    before = known_by_cutoff(_build(block, WORLD))
    after = known_by_cutoff(_build(block, oracle.merge(WORLD, LATE)))
    assert before.height == len(ENTITIES) * sum(d <= CUTOFF for d in DATES)
    assert_frame_equal(after, before, check_exact=True)


# --- the registry ---------------------------------------------------------------------------------------------------


@pytest.fixture
def registry() -> Iterator[dict[str, FeatureBlock]]:
    """The global block registry, restored after the test."""
    registered_blocks()
    snapshot = dict(base._BLOCKS)
    yield base._BLOCKS
    base._BLOCKS.clear()
    base._BLOCKS.update(snapshot)


def _probe(windows: tuple[int, ...] = (30,), label_zh: str = "探针") -> FeatureBlock:
    return window_stats("common_probe", "complaints", windows, label_zh=label_zh, label_en="probe", owner="tests")


def test_identical_re_registration_is_allowed(registry: dict[str, FeatureBlock]) -> None:
    first = _probe()
    assert _probe() == first
    assert registry["common_probe"].fingerprint() == first.fingerprint()


@pytest.mark.parametrize(
    "clash",
    [
        pytest.param(lambda: _probe(windows=(60,)), id="other-parameters"),
        pytest.param(lambda: _probe(label_zh="别的标签"), id="other-labels"),
    ],
)
def test_a_different_block_under_a_taken_name_raises(registry: dict[str, FeatureBlock], clash: typing.Any) -> None:
    _probe()
    with pytest.raises(ValueError, match="already registered"):
        clash()
    assert registry["common_probe"].fingerprint() == _probe().fingerprint()


def test_a_shipped_block_name_cannot_be_taken(registry: dict[str, FeatureBlock]) -> None:
    with pytest.raises(ValueError, match="already registered"):
        window_stats("complaints", "complaints", (7,), label_zh="投诉", label_en="complaints", owner="someone else")


def test_decorated_blocks_with_other_code_clash(registry: dict[str, FeatureBlock]) -> None:
    column = FeatureColumn("n", "数量", "number", "count")

    @feature_block(name="common_coded", owner="tests", description="probe", tables=("complaints",), columns=(column,))
    def first(view: AsOf) -> pl.DataFrame:
        return view.window_sums("complaints", Window(30), {"n": pl.lit(1, pl.Int64)})

    with pytest.raises(ValueError, match="already registered"):

        @feature_block(
            name="common_coded", owner="tests", description="probe", tables=("complaints",), columns=(column,)
        )
        def second(view: AsOf) -> pl.DataFrame:
            return view.window_sums("complaints", Window(30), {"n": pl.lit(2, pl.Int64)})

    assert registry["common_coded"] is first


def _block_returning(rows: list[tuple[int, int, float | None]]) -> FeatureBlock:
    """A block whose output is given as (entity code, date index, value) rows, in that order."""
    columns = (
        FeatureColumn("kept", "值", "value", "number", default=None),
        FeatureColumn("filled", "值", "value", "number", default=-1),
    )

    def compute(view: AsOf) -> pl.DataFrame:
        entity, k, value = zip(*rows, strict=True)
        schema = {"entity_id": pl.UInt32, "_k": pl.Int32, "kept": pl.Float64}
        frame = pl.DataFrame({"entity_id": entity, "_k": k, "kept": value}, schema=schema, orient="col")
        return frame.with_columns(pl.col("kept").alias("filled"))

    return FeatureBlock("common_rows", "tests", "probe", ("complaints",), columns, compute)


def test_blocks_may_answer_out_of_grid_order_and_nulls_stay_null_or_take_the_default() -> None:
    frame = _build(_block_returning([(2, 1, 5.0), (0, 0, None), (1, 3, 2.5)]), WORLD)
    cells = {(e, a): (kept, filled) for e, a, kept, filled in frame.iter_rows()}
    by_code = sorted(ENTITIES)
    assert cells[by_code[2], DATES[1]] == (5.0, 5.0)
    assert cells[by_code[1], DATES[3]] == (2.5, 2.5)
    assert cells[by_code[0], DATES[0]] == (None, -1.0)  # a null value: null, or the declared default
    assert cells[by_code[3], DATES[2]] == (None, -1.0)  # no row: the same
    assert frame.height == len(ENTITIES) * len(DATES)


def test_a_block_answering_every_cell_in_grid_order_keeps_nulls_or_takes_the_default() -> None:
    every = [(e, k, None if (e, k) == (1, 2) else float(10 * e + k)) for e in range(len(ENTITIES)) for k in range(4)]
    frame = _build(_block_returning(every), WORLD)
    by_code = sorted(ENTITIES)
    cells = {(e, a): (kept, filled) for e, a, kept, filled in frame.iter_rows()}
    assert cells[by_code[3], DATES[1]] == (31.0, 31.0)
    assert cells[by_code[1], DATES[2]] == (None, -1.0)
    assert frame.schema["common_rows__filled"] == pl.Float64


def test_a_block_answering_a_cell_twice_fails() -> None:
    with pytest.raises(AssertionError, match="duplicate"):
        _build(_block_returning([(2, 1, 5.0), (0, 0, 1.0), (2, 1, 6.0)]), WORLD)
