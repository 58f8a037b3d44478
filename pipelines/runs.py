"""Write-once run folders: stage every output, then publish the folder with one rename, manifest inside.

A reader sees a run folder only when it is complete: stages write into a private staging folder; publishing
fsyncs it, writes `manifest.json` (counts and sha256 of every file) last, and renames the staging folder to its final
name in one atomic step. A crash leaves a stale staging folder, never a half-written run.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from features.atomic import fsync_dir, process_alive, write_json_atomic
from features.loading import file_sha256

MANIFEST = "manifest.json"
STAGING = ".staging"


class RunAlreadyPublished(Exception):
    """The (theme, date) run folder exists: reruns are no-ops."""


@dataclass(frozen=True)
class RunPaths:
    """Where one theme's runs live."""

    root: Path
    theme: str

    @property
    def theme_dir(self) -> Path:
        return self.root / self.theme

    def final(self, as_of: date) -> Path:
        return self.theme_dir / as_of.isoformat()

    def published(self, as_of: date) -> bool:
        return (self.final(as_of) / MANIFEST).exists()

    def published_dates(self) -> list[date]:
        if not self.theme_dir.exists():
            return []
        return sorted(
            date.fromisoformat(p.name)
            for p in self.theme_dir.iterdir()
            if not p.name.startswith(".") and (p / MANIFEST).exists()
        )

    def previous(self, as_of: date) -> Path | None:
        earlier = [d for d in self.published_dates() if d < as_of]
        return self.final(earlier[-1]) if earlier else None


def start_staging(paths: RunPaths, as_of: date) -> Path:
    """A fresh private staging folder for one attempt (stale ones of dead attempts are removed first)."""
    staging_root = paths.theme_dir / STAGING
    staging_root.mkdir(parents=True, exist_ok=True)
    for stale in staging_root.glob(f"{as_of.isoformat()}-*"):
        pid = int(stale.name.split("-")[3])
        if not process_alive(pid):
            shutil.rmtree(stale, ignore_errors=True)
    folder = staging_root / f"{as_of.isoformat()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    return folder


def file_inventory(folder: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file below `folder` (relative paths, sorted)."""
    return {
        str(p.relative_to(folder)): {"sha256": file_sha256(p), "bytes": p.stat().st_size}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def publish(staging: Path, paths: RunPaths, as_of: date, manifest: dict[str, Any]) -> Path:
    """Fsync the staged files, write the manifest last, and rename the folder into place.

    Raises RunAlreadyPublished when the date was published meanwhile (the caller holds the run lock, so this only
    happens when a previous attempt finished).
    """
    final = paths.final(as_of)
    if paths.published(as_of):
        raise RunAlreadyPublished(f"{final} is already published")
    for path in sorted(staging.rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    write_json_atomic(manifest | {"files": file_inventory(staging)}, staging / MANIFEST)
    if final.exists():  # an unpublished leftover (no manifest): not a run for readers, safe to replace
        shutil.rmtree(final)
    os.replace(staging, final)
    fsync_dir(final.parent)
    return final


def read_manifest(folder: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return manifest


def verify_run(folder: Path) -> list[str]:
    """Files whose sha256 differs from the manifest, or that are missing or unlisted (empty: intact)."""
    recorded = read_manifest(folder)["files"]
    actual = file_inventory(folder)
    problems = [f"changed: {name}" for name in recorded if name in actual and actual[name] != recorded[name]]
    problems += [f"missing: {name}" for name in recorded if name not in actual]
    problems += [f"unlisted: {name}" for name in actual if name not in recorded]
    return problems
