"""Casting delivered columns to the contract's dtypes without losing the information of which cells failed."""

from __future__ import annotations

import polars as pl

from features.contracts import Column
from features.dates import parse_mixed_dates
from features.uscc import uscc_normalise_expr

TRUE_WORDS = ("true", "t", "1", "yes", "y", "是", "有")
FALSE_WORDS = ("false", "f", "0", "no", "n", "否", "无")


def typed_frame(frame: pl.DataFrame, columns: tuple[Column, ...]) -> pl.DataFrame:
    """Cast every contract column; text dates are parsed once per distinct value (a feed repeats its few days)."""
    typed = frame.select([typed_expr(c, frame.schema[c.name]).alias(c.name) for c in columns])
    for column in columns:
        if column.dtype == pl.Date and frame.schema[column.name] == pl.String:
            distinct = frame.select(pl.col(column.name).unique())
            parsed = distinct.with_columns(parse_mixed_dates(column.name).alias("_parsed"))
            joined = frame.select(column.name).join(
                parsed, on=column.name, how="left", nulls_equal=True, maintain_order="left"
            )
            typed = typed.with_columns(joined["_parsed"].alias(column.name))
    return typed


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
        return pl.lit(None, dtype=pl.Date)  # parsed per distinct value in `typed_frame`
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
