"""Subcommands of the `riskgen` CLI, one module per noun."""
