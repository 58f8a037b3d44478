"""Assembling feature frames: one row per (entity, as-of date), columns `<block>__<column>`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import numpy as np
import polars as pl

from features.asof import ENTITY, ENTITY_ID, AsOf, K
from features.blocks.base import FeatureBlock
from features.heap import kept_heap
from features.store import TableStore

AS_OF = "as_of"


def build_feature_frame(
    blocks: Sequence[FeatureBlock],
    tables: TableStore,
    as_of_dates: Iterable[date],
    entities: Iterable[str] | None = None,
    entity_table: str = "enterprises",
) -> pl.DataFrame:
    """Compute blocks for every entity at every as-of date.

    Args:
        blocks: the feature blocks, in output order.
        tables: validated tables (only read through the point-in-time view).
        as_of_dates: one or many dates; many are built in one pass, not one build per date.
        entities: entity ids to keep (default: every entity of `entity_table`).
        entity_table: the table whose key identifies entities.

    Returns:
        `entity_id`, `as_of`, then each block's columns with declared defaults filled.
    """
    dates = tuple(sorted(set(as_of_dates)))
    if not dates:
        raise ValueError("build_feature_frame needs at least one as-of date")
    _check_names(blocks)
    with kept_heap():  # hundreds of grid-sized arrays come and go: reuse their memory (see features/heap.py)
        return _build(blocks, AsOf(tables, dates, entity_table), entities)


def _build(blocks: Sequence[FeatureBlock], view: AsOf, entities: Iterable[str] | None) -> pl.DataFrame:
    view.prefetch(blocks)
    grid = _grid(view, entities)
    grid_entities = grid[ENTITY].gather_every(view.n_dates)  # once, not once per block
    columns: list[pl.Series] = []
    for position, block in enumerate(blocks):
        columns += _placed(block, block.run(view), grid_entities, view.n_dates)
        if not any(block in later.depends_on for later in blocks[position + 1 :]):
            view.release(block.name)
    frame = grid.with_columns(columns)
    # Categories leave the engine as plain text: models encode them with codes fixed at training.
    frame = frame.with_columns(pl.col(pl.Categorical).cast(pl.String))
    as_of = pl.lit(pl.Series(AS_OF, view.dates, dtype=pl.Date)).gather(pl.col(K)).alias(AS_OF)
    # The grid is in (code, date) order and codes follow the sorted ids: the frame is sorted by (entity, as-of).
    return view.decode(frame).select(ENTITY, as_of, pl.exclude(ENTITY, K))


def feature_columns(blocks: Sequence[FeatureBlock]) -> list[str]:
    return [name for block in blocks for name in block.output_columns]


def _check_names(blocks: Sequence[FeatureBlock]) -> None:
    names = [b.name for b in blocks]
    if len(set(names)) != len(names):
        raise ValueError(f"a block is listed twice: {sorted(n for n in names if names.count(n) > 1)}")
    columns = feature_columns(blocks)
    clashes = {c for c in columns if columns.count(c) > 1 or c in (ENTITY, AS_OF)}
    if clashes:
        raise ValueError(f"feature column names clash: {sorted(clashes)}")


def _grid(view: AsOf, entities: Iterable[str] | None) -> pl.DataFrame:
    """Entity codes x date indices, in (code, date) order. Requested ids unknown to the entity table are an error."""
    codes = view.codes
    if entities is not None:
        wanted = pl.DataFrame({ENTITY_ID: list(entities)}, schema={ENTITY_ID: pl.String}).unique()
        unknown = wanted.join(codes, on=ENTITY_ID, how="anti")
        if unknown.height:
            raise KeyError(
                f"{unknown.height} requested entities are not in {view.entity_table}: "
                f"{unknown[ENTITY_ID].head(3).to_list()}"
            )
        codes = codes.join(wanted, on=ENTITY_ID, how="semi")
    indices = pl.DataFrame({K: range(view.n_dates)}, schema={K: pl.Int32})
    return codes.select(ENTITY).sort(ENTITY).join(indices, how="cross", maintain_order="left_right")


def _placed(block: FeatureBlock, output: pl.DataFrame, entities: pl.Series, n_dates: int) -> list[pl.Series]:
    """The block's columns laid on the grid's rows (declared defaults where the block has no row).

    A grid row's position is (rank of its entity code) x n_dates + date index, so each column is one scatter instead
    of a join of the whole frame per block. `entities` are the grid's entity codes, sorted.
    """
    if entities.len() and entities[0] == 0 and entities[-1] == entities.len() - 1:
        rank = output[ENTITY].to_numpy()  # every entity (codes 0..n-1): an entity's rank is its code
    else:
        output = output.filter(pl.col(ENTITY).is_in(entities))
        rank = entities.search_sorted(output[ENTITY]).to_numpy()
    cells = rank.astype(np.int64) * n_dates  # in numpy: one array of grid size, not three
    cells += output[K].to_numpy()
    height = entities.len() * n_dates
    in_order = bool(np.all(cells[1:] > cells[:-1]))  # most blocks answer in grid order
    if not in_order:  # a mark per cell: an eighth of the memory of counting the rows at each
        seen = np.zeros(height, dtype=bool)
        seen[cells] = True
        if np.count_nonzero(seen) < cells.size:
            raise AssertionError(f"block {block.name!r} returned duplicate (entity, as-of) rows")
    named = [(output[c.name].alias(block.output_name(c.name)), c.default) for c in block.columns]
    if in_order and cells.size == height:  # a row for every grid cell: the block's columns are the columns
        return [_filled(values, default) for values, default in named]
    return [_laid(values, cells, height, default) for values, default in named]


def _filled(values: pl.Series, default: float | int | str | None) -> pl.Series:
    if default is None or (not values.null_count() and _holds(values.dtype, default)):
        return values  # nothing to fill, and the dtype stays what filling would keep
    return values.fill_null(default)


def _laid(values: pl.Series, cells: np.ndarray, height: int, default: float | int | str | None) -> pl.Series:
    """`values` at `cells` of a column of `height` rows, `default` (or null) elsewhere and where `values` is null."""
    if not (values.dtype.is_integer() or values.dtype.is_float()):
        scattered = pl.Series(values.name, dtype=values.dtype).extend_constant(None, height).scatter(cells, values)
        return _filled(scattered, default)
    # Numbers by one numpy scatter (twice polars' speed); a validity mask only when nulls remain.
    takes_default = default is not None and _holds(values.dtype, default)
    fill = default if takes_default else 0
    numbers = values.fill_null(fill).to_numpy()
    dense = np.full(height, fill, dtype=numbers.dtype)
    dense[cells] = numbers
    column = pl.Series(values.name, dense, dtype=values.dtype)
    if takes_default:  # the common case (counts, sums, ratios with a numeric default)
        return column
    missing = np.ones(height, dtype=bool)
    missing[cells] = values.is_null().to_numpy()
    column = column.set(pl.Series(missing), None)
    return _filled(column, default)


def _holds(dtype: pl.DataType, default: float | int | str) -> bool:
    """Whether a column of `dtype` takes `default` as it is (filling would otherwise change the dtype)."""
    if isinstance(default, (bool, str)):
        return False
    return dtype.is_float() or (dtype.is_integer() and isinstance(default, int))
