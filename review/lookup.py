"""Finding what a request names, by id only: warnings in the database, dossiers and manifests in run folders.

A route parameter is never joined into a path. The run folder is `runs_dir/<theme>/<date>` built from the database's
validated key, every component must be a real directory (no symlink), and files are opened with O_NOFOLLOW.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from fastapi import Request

from review.dispositions import WarningKey
from review.queries import get_warning, parse_key
from review.sessions import Session
from review.web import Forbidden, NotFound, app_state

MAX_FILE = 8 * 1024 * 1024
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")


def load_warning(
    request: Request, session: Session, theme: str, as_of: str, entity_id: str
) -> tuple[WarningKey, dict[str, Any]]:
    """The warning named by the route, if it exists and the user's towns cover it (else 404 / 403)."""
    parsed = parse_key(theme, as_of, entity_id)
    if parsed is None or parsed[2] is None:
        raise NotFound()
    key = WarningKey(parsed[0], parsed[1], parsed[2])
    row = get_warning(app_state(request).engine, key)
    if row is None:
        raise NotFound()
    if not session.user.covers(row.get("area")):
        raise Forbidden(f"warning of {row.get('area')} outside the user's towns")
    return key, row


def run_folder(runs_dir: Path, key: WarningKey) -> Path | None:
    """The published run folder of a warning: real directories only, with a manifest (no manifest, no run)."""
    if not (_SAFE.match(key.theme) and _SAFE.match(key.entity_id)):
        return None
    base = runs_dir.resolve()
    folder = base / key.theme / key.as_of.isoformat()
    try:
        real = folder.resolve(strict=True)
    except OSError:
        return None
    if real != folder or not (real / "manifest.json").is_file():
        return None
    return real


def _read_regular(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE:
            return None
        return handle.read()


def read_dossier(runs_dir: Path, key: WarningKey) -> bytes | None:
    """The run's `dossiers/<entity>.html` for this warning, or None when there is none (or it is not a plain file)."""
    folder = run_folder(runs_dir, key)
    if folder is None:
        return None
    dossiers = folder / "dossiers"
    if dossiers.is_symlink() or not dossiers.is_dir():
        return None
    return _read_regular(dossiers / f"{key.entity_id}.html")


def read_manifest(runs_dir: Path, key: WarningKey) -> dict[str, Any]:
    folder = run_folder(runs_dir, key)
    content = _read_regular(folder / "manifest.json") if folder else None
    if not content:
        return {}
    try:
        manifest = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def reasons_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        reasons = json.loads(row.get("reasons") or "[]")
    except json.JSONDecodeError:
        return []
    return [r for r in reasons if isinstance(r, dict)]


def triggers_of(row: dict[str, Any]) -> list[str]:
    try:
        triggers = json.loads(row.get("triggers") or "[]")
    except json.JSONDecodeError:
        return []
    return [str(t) for t in triggers]
