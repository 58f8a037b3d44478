"""Parsing the date formats real feeds mix in one column."""

from __future__ import annotations

from datetime import date

import polars as pl

DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d", "%Y.%m.%d")
DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")
EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 (it counts a fictitious 1900-02-29)
EXCEL_SERIAL_PATTERN = r"^\d{5}(\.0+)?$"  # 10000..99999 covers 1927..2173


def parse_mixed_dates(column: str) -> pl.Expr:
    """Parse a String column holding ISO, slashed, Chinese (`2025年6月3日`), compact or Excel-serial dates.

    Unparseable values become null; the validator turns "non-empty but null after parsing" into a reason code.
    """
    text = pl.col(column).str.strip_chars()
    candidates = [text.str.to_date(fmt, strict=False) for fmt in DATE_FORMATS]
    candidates += [text.str.to_datetime(fmt, strict=False).dt.date() for fmt in DATETIME_FORMATS]
    serial = text.str.replace(r"\.0+$", "").cast(pl.Int64, strict=False)
    excel = pl.when(text.str.contains(EXCEL_SERIAL_PATTERN)).then(pl.lit(EXCEL_EPOCH) + pl.duration(days=serial))
    candidates.append(excel.cast(pl.Date))
    return pl.coalesce(candidates)
