"""Sharding a feature build by entity, exactly: the same features as one build over every entity.

An entity belongs to shard `crc32(utf-8 id) mod N`: a checksum fixed by the zlib format, so the same id lands in the
same shard on every machine, Python and polars version (polars' own `hash` is not stable across versions).

Most blocks are entity-local: an entity's features depend only on its own rows, so a shard computes them from its own
entities' rows (the entity table is cut to the shard's entities; `AsOf` then drops the other entities' rows of every
table). A block that *builds on other blocks* (`depends_on`, e.g. `peer_relative`: a value against the median of
the entity's sector x town over every entity) is not: computed inside a shard it would see only the shard's peers.
Those blocks run in a *global pass* instead:

1. each shard computes the raw outputs of the blocks the global blocks depend on, keyed by entity id
   (`dependency_outputs`);
2. the global pass gathers them for every entity and runs the global blocks' own `compute` on them
   (`global_outputs`; a `GatheredView` hands a block its dependencies' outputs and refuses any table access);
3. each shard assembles its frame with `build_feature_frame`, the dependency and global blocks replaced by blocks
   that return the precomputed outputs of the shard's entities (`precomputed_blocks`).

The same block code computes every value and assembly is the single-process code, so the frames are bitwise the
single-process frame cut to the shard (tests/pipelines/test_scale_out.py proves it on the shipped themes).
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl

from features.asof import ENTITY, ENTITY_ID, AsOf, K
from features.blocks.base import FeatureBlock
from features.store import TableStore


def shard_of(entity_id: str, shards: int) -> int:
    """The shard (0 <= s < shards) of one entity id: crc32 of its UTF-8 bytes modulo the shard count."""
    if shards < 1:
        raise ValueError(f"the shard count must be at least 1, got {shards}")
    return zlib.crc32(entity_id.encode("utf-8")) % shards


def shard_numbers(entity_ids: Sequence[str] | pl.Series, shards: int) -> np.ndarray:
    """`shard_of` of every id, as an int64 array (about 0.2 s per million ids)."""
    if shards < 1:
        raise ValueError(f"the shard count must be at least 1, got {shards}")
    checksums = np.fromiter((zlib.crc32(e.encode("utf-8")) for e in entity_ids), np.int64, count=len(entity_ids))
    return checksums % shards


def shard_mask(entity_ids: pl.Series, shard: int, shards: int) -> pl.Series:
    """True for the ids of `shard`."""
    return pl.Series(shard_numbers(entity_ids, shards) == shard)


def shard_store(store: TableStore, entity_table: str, shard: int, shards: int) -> TableStore:
    """The store cut to the entities of one shard: the entity table keeps the rows of those entities (in order).

    The other tables need no cut: `AsOf` keeps only the rows of entities in the entity table (an inner join on the
    entity codes it reads anyway), and the cohort is drawn from the entity table. Filtering every table here would
    add a second pass over each (measured: twice the time of the dependency blocks at 100k).
    """
    key = store.contract(entity_table).entity_key
    ids = store.frame(entity_table).select(pl.col(key).unique()).collect(engine="streaming").to_series()
    mine = pl.DataFrame({key: ids.filter(shard_mask(ids, shard, shards))})
    frames = dict(store.frames)
    frames[entity_table] = store.frame(entity_table).join(mine.lazy(), on=key, how="semi", maintain_order="left")
    return TableStore(frames, dict(store.contracts), dict(store.paths))


def global_blocks(blocks: Sequence[FeatureBlock]) -> list[FeatureBlock]:
    """Blocks that build on other blocks' outputs (possibly across entities): computed in the global pass."""
    return [b for b in blocks if b.depends_on]


def dependency_blocks(blocks: Sequence[FeatureBlock]) -> list[FeatureBlock]:
    """Entity-local blocks whose outputs the global blocks read (transitively), each once, in first-seen order."""
    found: dict[str, FeatureBlock] = {}

    def visit(block: FeatureBlock) -> None:
        for dependency in block.depends_on:
            if dependency.depends_on:
                visit(dependency)
            elif dependency.name not in found:
                found[dependency.name] = dependency

    for block in global_blocks(blocks):
        visit(block)
    return list(found.values())


def dependency_outputs(view: AsOf, blocks: Sequence[FeatureBlock]) -> dict[str, pl.DataFrame]:
    """Raw outputs of the dependency blocks in one shard's view, keyed by entity id (not the view's codes)."""
    return {b.name: view.decode(b.run(view)) for b in dependency_blocks(blocks)}


class GatheredView:
    """What a global block sees in the global pass: its dependencies' outputs over every entity, keyed by id.

    It answers `block()` only; a block that reads tables itself cannot run here and fails loudly, never silently.
    """

    def __init__(self, outputs: Mapping[str, pl.DataFrame], computable: Sequence[str]) -> None:
        self._cache = dict(outputs)
        self._computable = set(computable)

    def block(self, name: str, compute: Callable[[Any], pl.DataFrame]) -> pl.DataFrame:
        if name not in self._cache:
            if name not in self._computable:
                raise KeyError(f"block {name!r} was not gathered for the global pass")
            self._cache[name] = compute(self)
        return self._cache[name]

    def __getattr__(self, name: str) -> Any:
        raise TypeError(
            f"a block that builds on other blocks read `view.{name}`: in a sharded build such a block may only read "
            "its dependencies' outputs (through `.run(view)`); move the table access into a dependency block"
        )


def global_outputs(blocks: Sequence[FeatureBlock], gathered: Mapping[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Outputs of the global blocks over every entity, from the gathered dependency outputs (keyed by entity id)."""
    todo = global_blocks(blocks)
    view = GatheredView(gathered, [b.name for b in todo])
    return {b.name: b.run(cast(AsOf, view)) for b in todo}


def precomputed_blocks(blocks: Sequence[FeatureBlock], outputs: Mapping[str, Path]) -> list[FeatureBlock]:
    """`blocks` with those named in `outputs` replaced by blocks reading that Parquet output (keyed by entity id).

    The replacement keeps the name, columns and defaults, so assembly fills and orders exactly as for the original.
    """
    return [
        dataclasses.replace(b, compute=_reader(outputs[b.name]), depends_on=()) if b.name in outputs else b
        for b in blocks
    ]


def _reader(path: Path) -> Callable[[AsOf], pl.DataFrame]:
    def compute(view: AsOf) -> pl.DataFrame:
        frame = pl.read_parquet(path).rename({ENTITY: ENTITY_ID})
        # Inner join on the view's codes: the rows of this view's entities, keyed by its own integer codes.
        return frame.join(view.codes, on=ENTITY_ID, how="inner").select(ENTITY, K, pl.exclude(ENTITY, ENTITY_ID, K))

    return compute
