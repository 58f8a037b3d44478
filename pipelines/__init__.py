"""Prefect flows, settings, run folders and the riskgen CLI."""
