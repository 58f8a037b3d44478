"""Warning-list exports staff open in Excel: CSV (UTF-8 with BOM) and XLSX, formula-safe."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import polars as pl
import xlsxwriter

from features.atomic import write_atomic

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = {
    "rank": "排名 rank",
    "tier_zh": "等级 tier",
    "status_zh": "状态 status",
    "entity_id": "统一社会信用代码 / ID",
    "entity__name": "名称 name",
    "entity__town": "镇街 town",
    "entity__sector": "行业 sector",
    "probability": "风险概率 probability",
    "reasons_zh": "预警原因 reasons",
    "under_disposition": "处置中 under disposition",
}


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix `'` to text cells a spreadsheet would run as a formula (`=HYPERLINK(...)` in a firm's name)."""
    risky = "^[" + "".join("\\" + c if c in "+-" else c for c in FORMULA_STARTS) + "]"
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(risky)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c, dtype in frame.schema.items()
        if dtype == pl.String
    )


def export_frame(warnings: pl.DataFrame) -> pl.DataFrame:
    """The columns staff read, with bilingual headers; lists flattened to text."""
    present = {c: h for c, h in EXPORT_COLUMNS.items() if c in warnings.columns}
    listed = warnings.filter(pl.col("tier").is_not_null()).select(list(present)).rename(present)
    return neutralise_formulas(listed)


def write_exports(warnings: pl.DataFrame, folder: Path) -> list[Path]:
    """warnings.csv and warnings.xlsx beside warnings.parquet."""
    frame = export_frame(warnings)
    csv_path, xlsx_path = folder / "warnings.csv", folder / "warnings.xlsx"
    write_atomic(csv_path, lambda tmp: tmp.write_bytes(b"\xef\xbb\xbf" + frame.write_csv().encode("utf-8")))
    write_atomic(xlsx_path, lambda tmp: _write_xlsx(frame, tmp, _business_date(warnings)))
    return [csv_path, xlsx_path]


def _business_date(warnings: pl.DataFrame) -> datetime:
    dates = warnings["as_of"].drop_nulls() if "as_of" in warnings.columns else pl.Series([], dtype=pl.Date)
    day = dates[0] if dates.len() else date(2000, 1, 1)
    return datetime.combine(day, time())


def _write_xlsx(frame: pl.DataFrame, path: Path, created: datetime) -> None:
    """XLSX whose metadata carries the business date, not the wall clock: a rerun writes the same bytes."""
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties({"created": created})
    frame.write_excel(workbook, worksheet="预警名单", autofit=True)
    workbook.close()
