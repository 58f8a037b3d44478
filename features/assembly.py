"""Assembling feature frames: one row per (entity, as-of date), columns `<block>__<column>`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import polars as pl

from features.asof import ENTITY, ENTITY_ID, KEYS, AsOf, K
from features.blocks.base import FeatureBlock
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
    view = AsOf(tables, dates, entity_table)
    frame = _grid(view, entities)
    for block in blocks:
        output = block.run(view).rename({c.name: block.output_name(c.name) for c in block.columns})
        frame = frame.join(output.with_columns(pl.col(K).cast(pl.Int32)), on=list(KEYS), how="left")
        frame = frame.with_columns(
            pl.col(block.output_name(c.name)).fill_null(c.default) for c in block.columns if c.default is not None
        )
    if frame.select(pl.struct(KEYS).is_duplicated().any()).item():
        raise AssertionError("feature frame has duplicate (entity, as-of) rows: a block returned duplicates")
    # Categories leave the engine as plain text: models encode them with codes fixed at training.
    frame = frame.with_columns(pl.col(pl.Categorical).cast(pl.String))
    as_of = pl.lit(pl.Series(AS_OF, dates, dtype=pl.Date)).gather(pl.col(K)).alias(AS_OF)
    return view.decode(frame).sort(ENTITY, K).select(ENTITY, as_of, pl.exclude(ENTITY, K))


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
    """Entity codes × date indices. Requested ids unknown to the entity table still get a row (all defaults)."""
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
    return codes.select(ENTITY).sort(ENTITY).join(indices, how="cross")
