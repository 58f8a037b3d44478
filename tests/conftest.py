"""Shared fixtures; helpers live in `support.py` (several conftest modules exist, so none is imported by name)."""

from __future__ import annotations

import os

import polars as pl
import pytest
from support import complaint_rows

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture
def complaints_frame() -> pl.DataFrame:
    return pl.DataFrame(complaint_rows(20))
