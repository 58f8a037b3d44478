"""Row-level validation in polars: every delivered row is accepted or quarantined with reason codes.

The invariant `accepted + quarantined == delivered` holds for every table; a rule that cannot be evaluated stops the
run instead of silently accepting rows.

Big tables are validated in row chunks, so memory is bounded by the chunk size, not the table: every rule but the
duplicate ones looks at one row only, and duplicates are found across the whole table first (`features/duplicates`).
Each rule is evaluated as a boolean column; reason strings are rendered only for the failing rows, which are few.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from features.coercion import is_blank, typed_frame
from features.contracts import OLDEST_PLAUSIBLE_DATE, Column, TableContract
from features.duplicates import POSITION, Duplicates, ReadRows, chunk_starts, find_duplicates
from features.errors import BlockingFailure
from features.uscc import uscc_problem_expr

ROW = "_row"
REASONS = "_reasons"
REASON_SEPARATOR = ";"
# Measured on the 50.7M-row prepaid_transactions (6 columns), under load: 1M or 2M rows a chunk take 40 s and peak at
# 1.1 GB, 5M rows 27 s and 1.7 GB (bigger chunks keep both cores busy), 10M rows 29 s and 2.9 GB.
CHUNK_ROWS = 5_000_000

WriteRows = Callable[[pl.DataFrame], None]


@dataclass(frozen=True)
class Check:
    """One row rule: `violated` is true for a bad row, `reason` the code written for it (an expression, because a
    credit-code check names the kind of problem found)."""

    violated: pl.Expr
    reason: pl.Expr


@dataclass(frozen=True)
class ValidationOutcome:
    """Counts and quarantined rows of one validated table (the accepted rows went to a writer)."""

    table: str
    delivered: int
    accepted_rows: int
    quarantined: pl.DataFrame

    @property
    def reason_counts(self) -> dict[str, int]:
        if self.quarantined.height == 0:
            return {}
        exploded = self.quarantined.select(pl.col(REASONS).str.split(REASON_SEPARATOR).explode())
        counts = exploded.group_by(REASONS).len().sort(["len", REASONS], descending=[True, False])
        return dict(zip(counts[REASONS].to_list(), counts["len"].to_list(), strict=True))

    def check_complete(self) -> None:
        if self.accepted_rows + self.quarantined.height != self.delivered:
            raise AssertionError(
                f"{self.table}: rows lost in validation ({self.accepted_rows} + "
                f"{self.quarantined.height} != {self.delivered})"
            )


@dataclass(frozen=True)
class TableValidation(ValidationOutcome):
    """Outcome of validating one delivered table, with its accepted rows in memory."""

    accepted: pl.DataFrame


def validate_frame(
    frame: pl.DataFrame,
    contract: TableContract,
    *,
    as_of: date,
    path: Path | None = None,
    uscc_allowlist: Iterable[str] = (),
    row_offset: int = 0,
    chunk_rows: int = CHUNK_ROWS,
) -> TableValidation:
    """Split a delivered frame (contract columns, any dtypes) into typed accepted rows and quarantined raw rows.

    Args:
        frame: the delivery, columns named as in the contract.
        contract: the table contract.
        as_of: delivery date; dates after it are quarantined as future dates.
        path: the delivered file, named in blocking errors.
        uscc_allowlist: credit codes accepted despite a failed checksum (early pilot codes).
        row_offset: added to the 0-based row number recorded for quarantined rows.
        chunk_rows: rows validated at a time (the result does not depend on it).
    """
    parts: list[pl.DataFrame] = []
    outcome = validate_rows(
        frame.slice,
        frame.height,
        contract,
        parts.append,
        as_of=as_of,
        path=path,
        uscc_allowlist=uscc_allowlist,
        row_offset=row_offset,
        chunk_rows=chunk_rows,
    )
    accepted = pl.concat([pl.DataFrame(schema=contract.schema), *parts])
    return TableValidation(outcome.table, outcome.delivered, outcome.accepted_rows, outcome.quarantined, accepted)


def validate_rows(
    read: ReadRows,
    height: int,
    contract: TableContract,
    write_accepted: WriteRows,
    *,
    as_of: date,
    path: Path | None = None,
    uscc_allowlist: Iterable[str] = (),
    row_offset: int = 0,
    held: Mapping[int, str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> ValidationOutcome:
    """Validate a delivery of `height` rows read chunk by chunk through `read(offset, length)`.

    Typed accepted rows go to `write_accepted`, chunk after chunk in delivery order; the quarantined rows (delivered
    text, row number and reasons) are returned. `held` adds a reason to given 0-based rows (e.g. a torn last row).
    """
    duplicates = find_duplicates(read, height, contract, chunk_rows)
    context = _Context(contract, as_of, path, frozenset(uscc_allowlist), row_offset, duplicates, dict(held or {}))
    accepted_rows = 0
    quarantined = [_empty_quarantine(contract)]
    for start, length in chunk_starts(height, chunk_rows):
        accepted, held_rows = _validate_chunk(read(start, length), start, context)
        write_accepted(accepted)
        accepted_rows += accepted.height
        quarantined.append(held_rows)
    outcome = ValidationOutcome(contract.name, height, accepted_rows, pl.concat(quarantined))
    outcome.check_complete()
    return outcome


@dataclass(frozen=True)
class _Context:
    contract: TableContract
    as_of: date
    path: Path | None
    allowlist: frozenset[str]
    row_offset: int
    duplicates: Duplicates
    held: dict[int, str]


def _validate_chunk(raw: pl.DataFrame, start: int, context: _Context) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed accepted rows and quarantined rows (delivered text, row number, reasons) of the chunk at `start`."""
    contract = context.contract
    typed = typed_frame(raw, contract.columns)
    combined = pl.concat(
        [typed, raw.select(pl.all().name.prefix("raw.")), _uscc_problems(typed, contract)], how="horizontal"
    ).with_columns(pl.int_range(start, start + raw.height, dtype=pl.Int64).alias(POSITION))
    # Reasons are written in this order: column checks, the contract's rules, then rows decided beforehand.
    column_checks = _column_checks(contract, raw.schema, context.as_of, context.allowlist)
    row_checks = _row_set_checks(context)
    violated = [
        *_flags(combined, column_checks),
        *_rule_flags(combined, contract, context.path),
        *_flags(combined, row_checks),
    ]
    reasons = [c.reason for c in column_checks] + [pl.lit(r.code) for r in contract.rules]
    reasons += [c.reason for c in row_checks]
    flags = pl.DataFrame([flag.alias(f"_check{i}") for i, flag in enumerate(violated)])
    bad = flags.select(pl.any_horizontal(pl.all())).to_series()
    failing = pl.concat([combined.filter(bad), flags.filter(bad)], how="horizontal")
    rendered = failing.select(
        pl.concat_str(
            [pl.when(pl.col(f"_check{i}")).then(reason) for i, reason in enumerate(reasons)],
            separator=REASON_SEPARATOR,
            ignore_nulls=True,
        ).alias(REASONS)
    )
    held_rows = raw.with_row_index(ROW, offset=context.row_offset + start).filter(bad)
    held_rows = held_rows.select(ROW, pl.exclude(ROW).cast(pl.String)).hstack(rendered)
    return typed.filter(~bad), held_rows


def _flags(combined: pl.DataFrame, checks: list[Check]) -> list[pl.Series]:
    """One boolean column per check, evaluated together (a null comparison is not a violation)."""
    if not checks:
        return []
    return combined.select([c.violated.fill_null(False).alias(f"_{i}") for i, c in enumerate(checks)]).get_columns()


def _rule_flags(combined: pl.DataFrame, contract: TableContract, path: Path | None) -> list[pl.Series]:
    """Evaluate user rules one by one, so a broken rule is named and stops the run instead of passing rows."""
    flags = []
    for rule in contract.rules:
        try:
            flag = combined.select(rule.violated()).to_series()
            if flag.dtype != pl.Boolean:
                raise TypeError(f"it gives {flag.dtype} values, not true/false")
        except Exception as exc:  # a user rule may fail in any way; every failure must stop the run
            raise BlockingFailure(
                contract.name,
                path,
                "rule_error",
                f"rule {rule.code!r} could not be evaluated ({exc})",
                f"fix the rule {rule.code!r} in the contract of {contract.name!r}; no row was accepted",
            ) from exc
        flags.append(flag.fill_null(False))
    return flags


def _row_set_checks(context: _Context) -> list[Check]:
    """Reasons decided for given rows beforehand: re-sent copies, conflicting keys, held rows."""
    position = pl.col(POSITION)
    checks = [
        Check(position.is_in(context.duplicates.resent.implode()), pl.lit("duplicate_row")),
        Check(position.is_in(context.duplicates.conflicting.implode()), pl.lit("conflicting_key")),
    ]
    for reason in sorted(set(context.held.values())):
        rows = [row for row, why in context.held.items() if why == reason]
        checks.append(Check(position.is_in(rows), pl.lit(reason)))
    return checks


def _column_checks(contract: TableContract, source: pl.Schema, as_of: date, allowlist: frozenset[str]) -> list[Check]:
    checks: list[Check] = []
    for column in contract.columns:
        checks += _value_checks(column, source[column.name], as_of, allowlist)
    if contract.event_at and contract.recorded_at and contract.event_at != contract.recorded_at:
        checks.append(_check("recorded_before_event", pl.col(contract.recorded_at) < pl.col(contract.event_at)))
    return checks


def _check(code: str, violated: pl.Expr) -> Check:
    return Check(violated, pl.lit(code))


def _value_checks(column: Column, source: pl.DataType, as_of: date, allowlist: frozenset[str]) -> list[Check]:
    """Checks of one column. Typed values are `<name>`, delivered values `raw.<name>`."""
    name = column.name
    value = pl.col(name)
    blank = is_blank(f"raw.{name}", source)
    checks = [_check(f"bad_type:{name}", ~blank & value.is_null())]
    if column.required:
        checks.append(_check(f"missing:{name}", blank))
    if column.uscc:
        problem = pl.col(f"problem.{name}")
        allowlisted = value.is_in(list(allowlist)) & (problem == "uscc_bad_checksum")
        checks.append(Check(problem.is_not_null() & ~blank & ~allowlisted, problem))
    if column.dtype in (pl.Float32, pl.Float64):
        checks.append(_check(f"not_a_number:{name}", value.is_nan() | value.is_infinite()))
    if column.allowed is not None:
        checks.append(_check(f"not_allowed:{name}", value.is_not_null() & ~value.is_in(list(column.allowed))))
    if column.minimum is not None:
        checks.append(_check(f"below_minimum:{name}", value < column.minimum))
    if column.maximum is not None:
        checks.append(_check(f"above_maximum:{name}", value > column.maximum))
    if column.dtype == pl.Date:
        checks.append(_check(f"implausible_date:{name}", value < OLDEST_PLAUSIBLE_DATE))
        if column.not_future:
            checks.append(_check(f"future_date:{name}", value > as_of))
    return checks


def _uscc_problems(typed: pl.DataFrame, contract: TableContract) -> pl.DataFrame:
    """Checksum reasons per credit-code column, computed once per distinct code (feeds repeat codes a lot)."""
    columns = {}
    for column in (c for c in contract.columns if c.uscc):
        distinct = typed.select(pl.col(column.name).unique()).with_columns(uscc_problem_expr(column.name).alias("p"))
        joined = typed.select(column.name).join(
            distinct, on=column.name, how="left", nulls_equal=True, maintain_order="left"
        )
        columns[f"problem.{column.name}"] = joined["p"]
    return pl.DataFrame(columns, height=typed.height) if columns else pl.DataFrame(height=typed.height)


def _empty_quarantine(contract: TableContract) -> pl.DataFrame:
    return pl.DataFrame(schema={ROW: pl.UInt32, **dict.fromkeys(contract.column_names, pl.String), REASONS: pl.String})
