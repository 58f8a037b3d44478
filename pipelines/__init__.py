"""Prefect flows, settings, run folders and the riskgen CLI."""

import features  # noqa: F401  # first, so that its allocator setting is in place before polars is imported
