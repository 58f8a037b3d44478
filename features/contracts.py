"""Table contracts: one frozen declaration per source table.

A contract is used three times: to cast a delivered file on load, to validate every row (accept or quarantine with a
reason), and to generate the Great Expectations suite and data dictionary. Users declare contracts for their own
sources in their own files and register them with `register_contract`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import polars as pl

TableKind = Literal["entity", "event", "interval", "snapshot"]
OLDEST_PLAUSIBLE_DATE = date(1949, 10, 1)


@dataclass(frozen=True)
class Column:
    """One column of a table and the value rules every row must meet.

    Attributes:
        name: column name in the delivered file.
        dtype: polars dtype the column is cast to.
        label: Chinese label for the data dictionary and user-facing text.
        description: English description.
        required: a null (or empty) value quarantines the row.
        allowed: the only values accepted (for categorical columns).
        minimum, maximum: inclusive numeric bounds.
        uscc: the column holds a unified social credit code (normalised, then checksum-checked).
        pii: sensitive personal information, masked in every output.
        not_future: a date that may not lie after the delivery's as-of date.
        free_text: names and summaries: shown to people, never a feature input (the feature engine skips it).
    """

    name: str
    dtype: pl.DataType | type[pl.DataType]
    label: str
    description: str = ""
    required: bool = True
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    uscc: bool = False
    pii: bool = False
    not_future: bool = True
    free_text: bool = False


@dataclass(frozen=True)
class RowRule:
    """A cross-column rule. `violated` builds an expression that is true for a bad row.

    A rule whose expression errors stops the run (a rule that cannot be evaluated would silently accept everything).
    """

    code: str
    description: str
    violated: Callable[[], pl.Expr]


@dataclass(frozen=True)
class TableContract:
    """The declaration of one source table.

    Attributes:
        name: table name; files are `<name>.parquet` or `<name>.csv` in a delivery folder.
        title: Chinese title.
        kind: entity (one row per entity), event (things that happened), interval (states with a start and end),
            or snapshot (periodic measurements such as balances).
        columns: the columns, in delivery order.
        keys: columns that identify a row; duplicates with different content are quarantined.
        entity_key: the column naming the entity the row belongs to.
        event_at: when the fact happened (the business clock).
        recorded_at: when we learned it (the knowledge clock); point-in-time views cut on it.
        valid_from, valid_to: the interval of an interval table (`valid_to` null while the state holds).
        rules: extra row rules.
        min_rows: a delivery with fewer rows blocks the run (an empty batch passes every column rule otherwise).
        volume_drop_ratio: a delivery below this share of the median of recent deliveries is held for confirmation.
    """

    name: str
    title: str
    kind: TableKind
    columns: tuple[Column, ...]
    keys: tuple[str, ...]
    entity_key: str = "uscc"
    event_at: str | None = None
    recorded_at: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    rules: tuple[RowRule, ...] = ()
    min_rows: int = 1
    volume_drop_ratio: float = 0.5
    description: str = ""
    owner: str = "riskgen"
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"contract {self.name!r}: duplicate column names in {names}")
        declared = {
            self.entity_key,
            *self.keys,
            self.event_at,
            self.recorded_at,
            self.valid_from,
            self.valid_to,
        }
        unknown = sorted(c for c in declared if c is not None and c not in names)
        if unknown:
            raise ValueError(f"contract {self.name!r}: {unknown} are named as keys or clocks but not declared")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"contract {self.name!r} has no column {name!r}; columns: {self.column_names}")

    @property
    def schema(self) -> dict[str, pl.DataType | type[pl.DataType]]:
        return {c.name: c.dtype for c in self.columns}

    def date_columns(self) -> list[Column]:
        return [c for c in self.columns if c.dtype == pl.Date]


_REGISTRY: dict[str, TableContract] = {}


def register_contract(contract: TableContract, *, replace: bool = False) -> TableContract:
    """Add a contract to the registry used by validation and the feature engine."""
    if contract.name in _REGISTRY and not replace and _REGISTRY[contract.name] != contract:
        raise ValueError(f"a different contract named {contract.name!r} is already registered")
    _REGISTRY[contract.name] = contract
    return contract


def registered_contracts() -> dict[str, TableContract]:
    """All registered contracts by name (the built-in tables are registered on import of `features.tables`)."""
    from features import tables  # noqa: F401  (registers the built-in contracts)

    return dict(_REGISTRY)


def get_contract(name: str) -> TableContract:
    contracts = registered_contracts()
    if name not in contracts:
        raise KeyError(f"no table contract named {name!r}; known: {sorted(contracts)}")
    return contracts[name]


def contracts_for(names: Iterable[str]) -> list[TableContract]:
    return [get_contract(n) for n in names]
