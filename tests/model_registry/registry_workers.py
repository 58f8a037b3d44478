"""Helpers that must be importable by name: the promotion worker run in separate processes, the pickle payload."""

from __future__ import annotations

import pickle
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from model_registry.errors import PromotionConflict
from model_registry.registry import Registry


def promote_worker(uri: str, theme: str, version: int, expected: int, barrier: Barrier, results: Queue) -> None:
    """Open the registry in this process, wait for the other worker, then try to promote `version`."""
    registry = Registry.open(uri)
    barrier.wait(timeout=300)  # both processes are ready: promote at the same moment
    try:
        record = registry.promote(theme, version, who=f"worker-{version}", why="race", expected_champion=expected)
        results.put(("won", version, record.previous_champion))
    except PromotionConflict as error:
        results.put(("conflict", version, str(error)))
    except Exception as error:  # reported to the test, which fails on it
        results.put(("error", version, repr(error)))


class TouchOnUnpickle:
    """A pickle payload: unpickling it creates `marker` (standing in for arbitrary code execution)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def payload(marker: Path) -> bytes:
    return pickle.dumps(TouchOnUnpickle(marker))
