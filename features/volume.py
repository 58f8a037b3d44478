"""Delivery volume history: a delivery far smaller than recent ones is held until someone confirms it."""

from __future__ import annotations

import json
import statistics
from datetime import date
from pathlib import Path

from features.atomic import write_text_atomic
from features.contracts import TableContract
from features.errors import BlockingFailure

RECENT_DELIVERIES = 7
MIN_HISTORY = 3


def _history(history_file: Path) -> dict[str, int]:
    if not history_file.exists():
        return {}
    entries = [json.loads(line) for line in history_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {e["as_of"]: int(e["rows"]) for e in entries}


def check_volume(
    contract: TableContract, rows: int, as_of: date, history_file: Path, path: Path, *, confirmed: bool = False
) -> None:
    """Raise when `rows` falls below the contract's share of the median of recent earlier deliveries."""
    earlier = sorted((d, n) for d, n in _history(history_file).items() if d < as_of.isoformat())
    recent = [n for _, n in earlier[-RECENT_DELIVERIES:]]
    if confirmed or len(recent) < MIN_HISTORY:
        return
    typical = statistics.median(recent)
    if rows < contract.volume_drop_ratio * typical:
        raise BlockingFailure(
            contract.name,
            path,
            "row_count_collapse",
            f"{rows} rows delivered, against a median of {typical:.0f} over the last {len(recent)} deliveries "
            f"(held below {contract.volume_drop_ratio:.0%})",
            f"confirm with the sender that the feed is complete; if it is, rerun with --confirm-volume {contract.name}",
        )


def record_volume(history_file: Path, as_of: date, rows: int) -> None:
    """Remember a validated delivery's row count (a rerun of the same date replaces its entry)."""
    history = _history(history_file)
    history[as_of.isoformat()] = rows
    lines = [json.dumps({"as_of": d, "rows": n}) for d, n in sorted(history.items())]
    write_text_atomic("\n".join(lines) + "\n", history_file)
