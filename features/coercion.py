"""Casting delivered columns to the contract's dtypes without losing the information of which cells failed."""

from __future__ import annotations

import polars as pl

from features.contracts import Column
from features.dates import parse_mixed_dates
from features.uscc import uscc_normalise_expr

TRUE_WORDS = ("true", "t", "1", "yes", "y", "是", "有")
FALSE_WORDS = ("false", "f", "0", "no", "n", "否", "无")


def typed_frame(frame: pl.DataFrame, columns: tuple[Column, ...]) -> pl.DataFrame:
    """Cast every contract column; unparseable cells become null.

    Text dates and credit codes are converted once per distinct value and joined back: a feed repeats its few days
    and its firms' codes millions of times, and parsing or folding the text is the costly part.
    """
    schema = frame.schema
    by_distinct = {c.name: e for c in columns if (e := _distinct_conversion(c, schema[c.name])) is not None}
    typed = frame.select([typed_expr(c, schema[c.name]).alias(c.name) for c in columns if c.name not in by_distinct])
    for name, convert in by_distinct.items():
        converted = frame.select(pl.col(name).unique()).with_columns(convert.alias("_converted"))
        joined = frame.select(name).join(converted, on=name, how="left", nulls_equal=True, maintain_order="left")
        typed = typed.with_columns(joined["_converted"].alias(name))
    return typed.select([c.name for c in columns])


def _distinct_conversion(column: Column, source: pl.DataType) -> pl.Expr | None:
    """The conversion of a delivered text column that is worth doing once per distinct value, if any."""
    if source != pl.String:
        return None
    if column.dtype == pl.Date:
        return parse_mixed_dates(column.name)
    if column.uscc:
        return uscc_normalise_expr(column.name)
    return None


def typed_expr(column: Column, source: pl.DataType) -> pl.Expr:
    """Expression casting the delivered column to the contract dtype; unparseable cells become null."""
    name = column.name
    target = column.dtype
    if source == pl.String:
        return _from_text(column)
    if source == target:
        return pl.col(name)
    if target == pl.Date and isinstance(source, pl.Datetime):
        return pl.col(name).dt.date()
    if target == pl.String:
        return _clean_text(pl.col(name).cast(pl.String), column)
    return pl.col(name).cast(target, strict=False)


def is_blank(name: str, source: pl.DataType) -> pl.Expr:
    """True where the delivered cell carries no value (null, or only white space for text)."""
    if source == pl.String:
        return pl.col(name).is_null() | (pl.col(name).str.strip_chars() == "")
    return pl.col(name).is_null()


def _from_text(column: Column) -> pl.Expr:
    name, target = column.name, column.dtype
    text = pl.col(name).str.strip_chars()
    if target == pl.String:
        return _clean_text(pl.col(name), column)
    if target == pl.Date:
        return parse_mixed_dates(name)  # `typed_frame` parses each distinct value once instead
    if target == pl.Boolean:
        lowered = text.str.to_lowercase()
        return pl.when(lowered.is_in(TRUE_WORDS)).then(True).when(lowered.is_in(FALSE_WORDS)).then(False)
    # Thousands separators are common in exported amounts ("1,200.50").
    return text.str.replace_all(",", "").cast(target, strict=False)


def _clean_text(expr: pl.Expr, column: Column) -> pl.Expr:
    if column.uscc:
        return uscc_normalise_expr(column.name)
    stripped = expr.str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)
