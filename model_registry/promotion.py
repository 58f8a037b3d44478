"""Promotion rules: compare-and-set on the champion alias under a kernel lock, the no-worse rule, the promotions log.

MLflow aliases have no compare-and-set, so every writer of the alias takes an exclusive `fcntl.flock` on a lock file
beside the database first. The kernel releases it when the holder dies, so a killed promotion never blocks the next.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from model_registry.errors import PromotionConflict, PromotionRefused
from model_registry.records import ModelVersionInfo, PromotionRecord, Tag

Expected = int | None | Literal["any"]


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if needed) for the duration of the block."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock


def check_expected(theme: str, current: ModelVersionInfo | None, expected: Expected) -> None:
    """Compare half of compare-and-set: the champion must still be the one the caller saw.

    Raises:
        PromotionConflict: `expected` is a version (or None for "no champion") and the champion differs.
    """
    if expected == "any":
        return
    actual = current.version if current else None
    if actual != expected:
        raise PromotionConflict(
            f"riskgen.{theme}: expected champion {_label(expected)}, but the champion is now {_label(actual)} "
            "(someone promoted meanwhile); look again and retry"
        )


def decide(
    candidate: ModelVersionInfo,
    current: ModelVersionInfo | None,
    *,
    who: str,
    why: str,
    force: bool,
) -> PromotionRecord:
    """The promotion record, or PromotionRefused when the candidate ranks worse on the same test dates.

    Versions are compared only when both were evaluated on the same test dates with the same budget; otherwise
    the figures are recorded but not compared (a different test period is a different exam).
    """
    comparable = (
        current is not None
        and candidate.precision is not None
        and current.precision is not None
        and candidate.test_dates == current.test_dates
        and candidate.tags.get(Tag.BUDGET) == current.tags.get(Tag.BUDGET)
    )
    if comparable and current and not force and (candidate.precision or 0.0) < (current.precision or 0.0):
        raise PromotionRefused(
            f"riskgen.{candidate.theme}: version {candidate.version} has precision@{candidate.tags.get(Tag.BUDGET)} "
            f"{candidate.precision:.4f}, below champion version {current.version}'s {current.precision:.4f} on the "
            f"same test dates ({_span(candidate.test_dates)}); pass force=True with a reason to promote it anyway"
        )
    return PromotionRecord(
        theme=candidate.theme,
        version=candidate.version,
        previous_champion=current.version if current else None,
        who=who,
        why=why,
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        forced=force,
        candidate_precision=candidate.precision,
        champion_precision=current.precision if current else None,
        comparable=comparable,
        budget=candidate.tags.get(Tag.BUDGET, ""),
        test_dates=candidate.test_dates,
    )


def record_tags(record: PromotionRecord) -> dict[str, str]:
    """Tags written on the promoted version (the latest promotion of that version; the log keeps them all)."""
    return {
        Tag.PROMOTED_BY: record.who,
        Tag.PROMOTED_WHY: record.why,
        Tag.PROMOTED_AT: record.at,
        Tag.PREVIOUS_CHAMPION: "" if record.previous_champion is None else str(record.previous_champion),
        Tag.FORCED: str(record.forced).lower(),
    }


def append_log(path: Path, record: PromotionRecord) -> None:
    """Append one JSON line and fsync it, so an acknowledged promotion is on disk."""
    line = json.dumps(record.to_dict(), ensure_ascii=False, sort_keys=True) + "\n"
    with path.open("a", encoding="utf-8") as log:
        log.write(line)
        log.flush()
        os.fsync(log.fileno())


def read_log(path: Path) -> list[PromotionRecord]:
    """Every promotion recorded in the log, oldest first."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [PromotionRecord(**json.loads(line)) for line in lines if line.strip()]


def _label(version: int | str | None) -> str:
    return "none" if version is None else f"version {version}"


def _span(dates: list[str]) -> str:
    return f"{dates[0]} … {dates[-1]}" if dates else "no dates"
