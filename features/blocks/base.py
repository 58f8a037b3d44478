"""Feature blocks: functions of an `AsOf` view with first-class metadata, and the registry that holds them."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from features.asof import KEYS, AsOf

ColumnKind = Literal["count", "amount", "ratio", "days", "flag", "category", "number"]
Compute = Callable[[AsOf], pl.DataFrame]


@dataclass(frozen=True)
class FeatureColumn:
    """One output column of a block, with the texts reason codes are rendered from.

    Attributes:
        name: column name inside the block (the frame column is `<block>__<name>`).
        label_zh: Chinese label, e.g. "近90天退费类投诉数".
        label_en: English label.
        kind: what the value is, used to render it (count, amount in yuan, ratio, days, flag, category, number).
        default: value for entities with no data (None keeps "unknown" for the model). It must be what the block's
            formula makes of empty windows: window sums answer with zeros for entities that have other rows of the
            table, so otherwise a value would depend on the blocks built alongside (a common test checks this).
        window_days: the look-back window, when the column has one.
        higher_is_riskier: the direction a reason sentence assumes, when known.
    """

    name: str
    label_zh: str
    label_en: str
    kind: ColumnKind = "number"
    default: float | int | str | None = 0
    window_days: int | None = None
    higher_is_riskier: bool | None = None


@dataclass(frozen=True)
class FeatureBlock:
    """A named, documented group of feature columns computed from an `AsOf` view.

    `compute` returns one row per (entity_id, _k) for entities it has data for; assembly fills the declared defaults
    for the others. `params` records the parameters of a generic block for the spec hash and the catalogue.
    """

    name: str
    owner: str
    description: str
    tables: tuple[str, ...]
    columns: tuple[FeatureColumn, ...]
    compute: Compute = field(compare=False)
    params: tuple[tuple[str, Any], ...] = ()
    depends_on: tuple[FeatureBlock, ...] = ()

    def __post_init__(self) -> None:
        if "__" in self.name or not self.name.isidentifier():
            raise ValueError(f"block name {self.name!r} must be an identifier without '__'")
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"block {self.name!r} declares a column twice: {names}")

    def output_name(self, column: str) -> str:
        return f"{self.name}__{column}"

    @property
    def output_columns(self) -> list[str]:
        return [self.output_name(c.name) for c in self.columns]

    def run(self, view: AsOf) -> pl.DataFrame:
        """Compute through the view's cache, keeping only declared columns (in order)."""
        frame = view.block(self.name, self.compute)
        missing = [c.name for c in self.columns if c.name not in frame.columns]
        if missing:
            raise ValueError(f"block {self.name!r} did not produce its declared columns {missing}")
        return frame.select(*KEYS, *[c.name for c in self.columns])

    def fingerprint(self) -> str:
        """Hash of the block's behaviour: parameters, metadata and the source of its compute function."""
        payload = {
            "name": self.name,
            "params": [[k, repr(v)] for k, v in self.params],
            "columns": [vars(c) for c in self.columns],
            "code": _source(self.compute),
            "depends_on": [d.fingerprint() for d in self.depends_on],
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _source(function: Callable[..., Any]) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return getattr(function, "__qualname__", repr(function))


_BLOCKS: dict[str, FeatureBlock] = {}


def register_block(block: FeatureBlock) -> FeatureBlock:
    """Add a block to the catalogue. Re-registering an identical definition is allowed; a clash is an error."""
    known = _BLOCKS.get(block.name)
    if known is not None and known.fingerprint() != block.fingerprint():
        raise ValueError(f"a different feature block named {block.name!r} is already registered (owner {known.owner})")
    _BLOCKS[block.name] = block
    return block


def registered_blocks() -> dict[str, FeatureBlock]:
    from features.blocks import prepaid  # noqa: F401  (registers the shipped blocks)

    return dict(_BLOCKS)


def feature_block(
    *,
    name: str,
    owner: str,
    description: str,
    tables: Sequence[str],
    columns: Sequence[FeatureColumn],
    depends_on: Sequence[FeatureBlock] = (),
) -> Callable[[Compute], FeatureBlock]:
    """Decorator turning `def f(view: AsOf) -> pl.DataFrame` into a registered `FeatureBlock`."""

    def wrap(compute: Compute) -> FeatureBlock:
        block = FeatureBlock(
            name, owner, description, tuple(tables), tuple(columns), compute, depends_on=tuple(depends_on)
        )
        return register_block(block)

    return wrap
