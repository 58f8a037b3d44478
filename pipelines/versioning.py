"""The code version recorded with every model and run: package version plus git commit when available."""

from __future__ import annotations

import getpass
import subprocess
from functools import cache
from importlib.metadata import version
from pathlib import Path


@cache
def code_version() -> str:
    """`riskgen <version>+g<commit>[.dirty]`; just the package version outside a git checkout."""
    base = f"riskgen {version('riskgen')}"
    root = Path(__file__).resolve().parent.parent
    try:
        commit = _git(root, "rev-parse", "--short=12", "HEAD")
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return base
    return f"{base}+g{commit}{'.dirty' if dirty else ''}"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout.strip()


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
