"""Row-level validation in polars: every delivered row is accepted or quarantined with reason codes.

The invariant `accepted + quarantined == delivered` holds for every table; a rule that cannot be evaluated stops the
run instead of silently accepting rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from features.coercion import is_blank, typed_frame
from features.contracts import OLDEST_PLAUSIBLE_DATE, Column, TableContract
from features.errors import BlockingFailure
from features.uscc import uscc_problem_expr

ROW = "_row"
REASONS = "_reasons"
REASON_SEPARATOR = ";"


@dataclass(frozen=True)
class TableValidation:
    """Outcome of validating one delivered table."""

    table: str
    delivered: int
    accepted: pl.DataFrame
    quarantined: pl.DataFrame

    @property
    def reason_counts(self) -> dict[str, int]:
        if self.quarantined.height == 0:
            return {}
        exploded = self.quarantined.select(pl.col(REASONS).str.split(REASON_SEPARATOR).explode())
        counts = exploded.group_by(REASONS).len().sort(["len", REASONS], descending=[True, False])
        return dict(zip(counts[REASONS].to_list(), counts["len"].to_list(), strict=True))

    def check_complete(self) -> None:
        if self.accepted.height + self.quarantined.height != self.delivered:
            raise AssertionError(
                f"{self.table}: rows lost in validation ({self.accepted.height} + "
                f"{self.quarantined.height} != {self.delivered})"
            )


def validate_frame(
    frame: pl.DataFrame,
    contract: TableContract,
    *,
    as_of: date,
    path: Path | None = None,
    uscc_allowlist: Iterable[str] = (),
    row_offset: int = 0,
) -> TableValidation:
    """Split a delivered frame (contract columns, any dtypes) into typed accepted rows and quarantined raw rows.

    Args:
        frame: the delivery, columns named as in the contract.
        contract: the table contract.
        as_of: delivery date; dates after it are quarantined as future dates.
        path: the delivered file, named in blocking errors.
        uscc_allowlist: credit codes accepted despite a failed checksum (early pilot codes).
        row_offset: added to the 0-based row number recorded for quarantined rows.
    """
    indexed = frame.with_row_index(ROW, offset=row_offset)
    typed = typed_frame(frame, contract.columns)
    combined = pl.concat(
        [typed, frame.select(pl.all().name.prefix("raw.")), _uscc_problems(typed, contract)], how="horizontal"
    )
    checks = _column_checks(contract, frame.schema, as_of, frozenset(uscc_allowlist))
    reasons = _evaluate(combined, checks, _rule_checks(combined, contract, path))
    reasons = _flag_duplicates(typed, reasons, contract)
    bad = reasons != ""
    quarantined = indexed.select(ROW, *[pl.col(c).cast(pl.String) for c in contract.column_names])
    result = TableValidation(
        contract.name,
        frame.height,
        accepted=typed.filter(~bad),
        quarantined=quarantined.with_columns(reasons).filter(bad),
    )
    result.check_complete()
    return result


def _column_checks(contract: TableContract, source: pl.Schema, as_of: date, allowlist: frozenset[str]) -> list[pl.Expr]:
    checks: list[pl.Expr] = []
    for column in contract.columns:
        checks += _value_checks(column, source[column.name], as_of, allowlist)
    if contract.event_at and contract.recorded_at and contract.event_at != contract.recorded_at:
        checks.append(_reason("recorded_before_event", pl.col(contract.recorded_at) < pl.col(contract.event_at)))
    return checks


def _reason(code: str, violated: pl.Expr) -> pl.Expr:
    """The reason code where `violated` is true, else null (a null comparison is not a violation)."""
    return pl.when(violated.fill_null(False)).then(pl.lit(code))


def _value_checks(column: Column, source: pl.DataType, as_of: date, allowlist: frozenset[str]) -> list[pl.Expr]:
    """Reason expressions for one column. Typed values are `<name>`, delivered values `raw.<name>`."""
    name = column.name
    value = pl.col(name)
    blank = is_blank(f"raw.{name}", source)
    checks = [_reason(f"bad_type:{name}", ~blank & value.is_null())]
    if column.required:
        checks.append(_reason(f"missing:{name}", blank))
    if column.uscc:
        problem = pl.col(f"problem.{name}")
        allowlisted = value.is_in(list(allowlist)) & (problem == "uscc_bad_checksum")
        checks.append(pl.when(~blank & ~allowlisted).then(problem))
    if column.dtype in (pl.Float32, pl.Float64):
        checks.append(_reason(f"not_a_number:{name}", value.is_nan() | value.is_infinite()))
    if column.allowed is not None:
        checks.append(_reason(f"not_allowed:{name}", value.is_not_null() & ~value.is_in(list(column.allowed))))
    if column.minimum is not None:
        checks.append(_reason(f"below_minimum:{name}", value < column.minimum))
    if column.maximum is not None:
        checks.append(_reason(f"above_maximum:{name}", value > column.maximum))
    if column.dtype == pl.Date:
        checks.append(_reason(f"implausible_date:{name}", value < OLDEST_PLAUSIBLE_DATE))
        if column.not_future:
            checks.append(_reason(f"future_date:{name}", value > as_of))
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


def _rule_checks(combined: pl.DataFrame, contract: TableContract, path: Path | None) -> list[pl.Series]:
    """Evaluate user rules one by one, so a broken rule is named and stops the run instead of passing rows."""
    results = []
    for rule in contract.rules:
        try:
            results.append(combined.select(_reason(rule.code, rule.violated())).to_series())
        except Exception as exc:  # a user rule may fail in any way; every failure must stop the run
            raise BlockingFailure(
                contract.name,
                path,
                "rule_error",
                f"rule {rule.code!r} could not be evaluated ({exc})",
                f"fix the rule {rule.code!r} in the contract of {contract.name!r}; no row was accepted",
            ) from exc
    return results


def _evaluate(combined: pl.DataFrame, checks: list[pl.Expr], rules: list[pl.Series]) -> pl.Series:
    """Join every reason of a row into one string ('' for a clean row)."""
    reasons = combined.select(pl.concat_str([*checks, *rules], separator=REASON_SEPARATOR, ignore_nulls=True))
    return reasons.to_series().fill_null("").alias(REASONS)


def _flag_duplicates(typed: pl.DataFrame, reasons: pl.Series, contract: TableContract) -> pl.Series:
    """Exact re-sent rows keep their first copy; distinct rows sharing a key are all held as conflicting."""
    first = pl.struct(contract.column_names).is_first_distinct()
    marked = typed.select(first.alias("_first"), *contract.keys)
    conflict = pl.lit(False)
    if contract.keys:
        conflict = pl.col("_first") & (pl.col("_first").cast(pl.Int32).sum().over(contract.keys) > 1)
    extra = marked.select(
        pl.concat_str(
            [_reason("duplicate_row", ~pl.col("_first")), _reason("conflicting_key", conflict)],
            separator=REASON_SEPARATOR,
            ignore_nulls=True,
        )
    ).to_series()
    joined = pl.DataFrame({"a": reasons, "b": extra}).select(
        pl.concat_str(["a", "b"], separator=REASON_SEPARATOR).str.strip_chars(REASON_SEPARATOR)
    )
    return joined.to_series().alias(REASONS)
