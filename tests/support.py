"""Helpers shared by the tests: valid credit codes and small delivery frames (import as `from support import ...`)."""

from __future__ import annotations

from datetime import date

from features.uscc import USCC_ALPHABET, uscc_check_char

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
