"""CSV exports of a warning list: masked text, and every cell that a spreadsheet would run as a formula neutralised."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from review.labels import disposition_label, group_label, list_status_label, tier_label
from risk_models.pii import mask_text

# Excel, LibreOffice and Sheets start a formula with these (full-width forms included: IMEs produce them)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
HEADERS: tuple[tuple[str, str, str], ...] = (
    ("rank", "排名", "rank"),
    ("tier", "预警等级", "tier"),
    ("status", "名单状态", "list status"),
    ("entity_id", "主体编号", "entity id"),
    ("entity_name", "名称", "name"),
    ("area", "镇街", "town"),
    ("entity_group", "行业/类型", "sector/group"),
    ("probability", "风险概率", "probability"),
    ("disposition", "研判状态", "disposition"),
    ("assignee", "承办人", "assignee"),
    ("due_date", "期限", "due date"),
    ("reasons", "主要原因", "main reasons"),
)


def neutralise(value: Any) -> str:
    """A cell as text, prefixed with ' when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def reason_texts(row: dict[str, Any], lang: str, top: int = 3) -> list[str]:
    """The first reasons of a warning, masked (free text can carry a number)."""
    try:
        reasons = json.loads(row.get("reasons") or "[]")
    except json.JSONDecodeError:
        return []
    key = "text_en" if lang == "en" else "text_zh"
    return [mask_text(str(r.get(key) or r.get("text_zh") or r.get("code", ""))) for r in reasons[:top]]


def _cells(row: dict[str, Any], lang: str) -> list[str]:
    values = {
        **row,
        "tier": tier_label(row.get("tier"), lang),
        "status": list_status_label(row.get("status"), lang),
        "entity_name": mask_text(row.get("entity_name")),
        "entity_group": group_label(row.get("entity_group"), lang),
        "probability": f"{float(row['probability']):.4f}",
        "disposition": disposition_label(row.get("disposition"), lang),
        "reasons": "；".join(reason_texts(row, lang)),
    }
    return [neutralise(values.get(name)) for name, _, _ in HEADERS]


def warnings_csv(rows: Iterable[dict[str, Any]], lang: str = "zh") -> str:
    """The list as CSV text (UTF-8 with BOM so spreadsheet programs read the Chinese right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([en if lang == "en" else zh for _, zh, en in HEADERS])
    for row in rows:
        writer.writerow(_cells(row, lang))
    return "\ufeff" + buffer.getvalue()
