"""A synthetic review workspace: pushed warnings, run folders with manifests and dossier files.

For tests, the load benchmark and trying the app without running the nightly flow. Data are made up and contain no
personal information (legal representatives and complainants do not appear).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from datetime import date
from html import escape
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from features.reference import SECTOR_LABELS, TOWNS
from features.uscc import USCC_ALPHABET, uscc_check_char
from review.db import push_run
from risk_models.pii import mask_text

SUFFIX = {
    "education_training": "教育培训有限公司",
    "fitness": "健身服务有限公司",
    "beauty": "美容美发店",
    "catering": "餐饮管理有限公司",
    "bath_massage": "足浴保健中心",
    "early_education": "早教托育有限公司",
}
SYLLABLES = "臻谦博格众宣文启明星辰瑞祥嘉禾和悦锦程鼎盛华泰安康优途乐享知行慧"
REASONS: tuple[tuple[str, str, str], ...] = (
    (
        "model:escrow__coverage",
        "存管余额占近一年售卡充值额比例为{v}%，低于同行业同镇街中位数（46%）",
        "escrow balance / card sales and recharges, 365 days: {v}%, below the peer median (46%)",
    ),
    (
        "model:complaints__count_365d",
        "近365天投诉{v}件，同行业同镇街至少半数企业为0",
        "complaints in 365 days: {v}, while at least half of peers have 0",
    ),
    (
        "model:escrow__balance_vs_prior",
        "存管余额为3-6个月前的0.{v}倍，低于同行业同镇街中位数（1倍）",
        "escrow balance vs 90-180 days before: 0.{v}×, below the peer median (1×)",
    ),
    (
        "model:redemptions__count_180d",
        "近180天消费核销{v}笔，低于同行业同镇街中位数（12笔）",
        "redemptions in 180 days: {v}, below the peer median (12)",
    ),
)
RULE = (
    "rule:legal_rep__elderly_nonlocal_change",
    "法定代表人近一年变更为外地老年人",
    "legal representative changed to a non-local elderly person",
)


def make_uscc(i: int) -> str:
    digits = []
    for _ in range(8):
        digits.append(USCC_ALPHABET[i % 31])
        i //= 31
    body = "91330109M" + "".join(reversed(digits))
    return body + uscc_check_char(body)


def _reasons(rng: random.Random, rule: bool) -> list[dict[str, Any]]:
    picked = rng.sample(REASONS, 3)
    out = [{"code": RULE[0], "text_zh": RULE[1], "text_en": RULE[2], "contribution": 1.0}] if rule else []
    for code, zh, en in picked:
        v = rng.randint(1, 9)
        out.append(
            {
                "code": code,
                "text_zh": zh.format(v=v),
                "text_en": en.format(v=v),
                "contribution": round(rng.uniform(0.1, 1.5), 3),
            }
        )
    return out


def sample_rows(count: int, towns: Sequence[str], seed: int = 7, start: int = 0) -> list[dict[str, Any]]:
    """`count` ranked warnings spread over `towns`, with names, reasons and tiers."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        sector = rng.choice(sorted(SUFFIX))
        name = "杭州萧山" + "".join(rng.sample(SYLLABLES, 2)) + SUFFIX[sector]
        rule = rng.random() < 0.2
        tier = "red" if i < count * 0.15 else "orange" if i < count * 0.55 else "yellow"
        rows.append(
            {
                "entity_id": make_uscc(start + i),
                "entity_name": name,
                "area": towns[i % len(towns)],
                "entity_group": sector,
                "tier": tier,
                "status": rng.choice(["new", "new", "escalated", "persisting"]),
                "probability": round(0.5 - 0.4 * i / max(count, 1), 4),
                "rank": i + 1,
                "triggers": [RULE[0][5:]] if rule else [],
                "reasons": _reasons(rng, rule),
                "under_disposition": False,
            }
        )
    return rows


def dossier_html(theme: str, as_of: date, row: dict[str, Any], rng: random.Random) -> str:
    """A standalone dossier page of realistic size (about 40 KB, like a real one) from the warning's own fields."""
    name = escape(mask_text(str(row["entity_name"])))
    reasons = "".join(
        f"<li>{escape(mask_text(r['text_zh']))}<br><small>{escape(mask_text(r['text_en']))}</small></li>"
        for r in row["reasons"]
    )
    sector = escape(SECTOR_LABELS.get(row["entity_group"], ""))
    kinds = ("投诉：退费难", "存管余额下降", "售卡充值")
    events = "".join(
        f"<tr><td>2026-{1 + k % 6:02d}-{1 + k % 28:02d}</td><td>{rng.choice(kinds)}</td>"
        f"<td>{rng.randint(100, 90000):,} 元</td><td>{sector}</td></tr>"
        for k in range(420)
    )
    style = "body{font-family:sans-serif;margin:24px}td{border-bottom:1px solid #ddd;padding:2px 8px}"
    return (
        f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>研判档案 · {name}</title>"
        f"<style>{style}</style></head><body><h1>{name}</h1><p>{escape(row['entity_id'])} · {escape(theme)} · "
        f"{as_of.isoformat()} · {escape(row['area'])}</p><h2>预警原因</h2><ol>{reasons}</ol><h2>事件时间线</h2>"
        f"<table>{events}</table></body></html>"
    )


def write_run(runs_dir: Path, theme: str, as_of: date, rows: list[dict[str, Any]], dossiers: bool = True) -> Path:
    """A published run folder (manifest last) with one dossier file per row."""
    folder = runs_dir / theme / as_of.isoformat()
    (folder / "dossiers").mkdir(parents=True, exist_ok=True)
    rng = random.Random(as_of.toordinal())
    for row in rows if dossiers else []:
        (folder / "dossiers" / f"{row['entity_id']}.html").write_text(dossier_html(theme, as_of, row, rng), "utf-8")
    manifest = {
        "theme": theme,
        "as_of": as_of.isoformat(),
        "code_version": "sample",
        "spec_hash": "sample0000000000",
        "model": {"name": f"riskgen.{theme}", "version": "1", "sha256": "0" * 64},
        "counts": {"listed": len(rows)},
        "inputs": {},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    return folder


def seed(
    engine: sa.Engine,
    runs_dir: Path,
    theme: str = "prepaid_cards",
    as_of: date = date(2026, 6, 30),
    rows: list[dict[str, Any]] | None = None,
    count: int = 120,
    towns: Sequence[str] = TOWNS[:4],
    dossiers: bool = True,
) -> list[dict[str, Any]]:
    """Write a run folder and push its warnings; returns the rows."""
    listed = rows if rows is not None else sample_rows(count, towns)
    folder = write_run(runs_dir, theme, as_of, listed, dossiers)
    pushed = [{**r, "run_dir": str(folder), "model_version": "1"} for r in listed]
    digest = hashlib.sha256(json.dumps(pushed, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    push_run(engine, theme, as_of, digest, pushed)
    return listed
