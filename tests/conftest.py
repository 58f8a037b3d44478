"""Shared test helpers: valid credit codes and small delivery frames."""

from __future__ import annotations

import os
from datetime import date

import polars as pl
import pytest

from features.uscc import USCC_ALPHABET, uscc_check_char

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

AS_OF = date(2026, 6, 30)


def make_uscc(i: int) -> str:
    """A valid credit code for Xiaoshan (division 330109) numbered i."""
    digits = []
    for _ in range(8):
        digits.append(USCC_ALPHABET[i % 31])
        i //= 31
    body = "91330109M" + "".join(reversed(digits))
    return body + uscc_check_char(body)


def complaint_rows(n: int, start: int = 0) -> dict[str, list[str]]:
    """n valid complaint rows as delivered text (the way a CSV arrives)."""
    return {
        "complaint_id": [f"C{start + i:07d}" for i in range(n)],
        "uscc": [make_uscc(start + i) for i in range(n)],
        "channel": ["12315" if i % 2 else "12345" for i in range(n)],
        "event_at": ["2025-06-03"] * n,
        "recorded_at": ["2025-06-05"] * n,
        "category": ["refund_refusal"] * n,
        "amount": [f"{100 + i}.50" for i in range(n)],
        "text": ["会员卡无法退费"] * n,
    }


@pytest.fixture
def complaints_frame() -> pl.DataFrame:
    return pl.DataFrame(complaint_rows(20))
