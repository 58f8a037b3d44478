"""Evidence files attached to a disposition: stored under a generated id, never under a name or path from a user."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from review.db import attachments
from review.dispositions import WarningKey

CONTENT_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".txt": "text/plain; charset=utf-8",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_ID = re.compile(r"^[0-9a-f]{32}$")


class EvidenceError(ValueError):
    """An upload that is refused (type, size, empty)."""


def display_name(filename: str) -> str:
    """The last component of an uploaded name, without control characters, for display only."""
    base = re.split(r"[\\/]", filename or "")[-1]
    clean = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    return clean[:120] or "evidence"


def _stored_path(folder: Path, attachment_id: str) -> Path:
    return folder / attachment_id[:2] / attachment_id


def check_upload(filename: str, content: bytes) -> tuple[str, str]:
    """The display name and content type of an acceptable upload; raises EvidenceError otherwise."""
    name = display_name(filename)
    content_type = CONTENT_TYPES.get(Path(name).suffix.lower())
    if content_type is None:
        raise EvidenceError(f"file type not accepted; accepted: {', '.join(sorted(CONTENT_TYPES))}")
    if not content:
        raise EvidenceError("the file is empty")
    return name, content_type


def save_evidence(
    engine: sa.Engine, folder: Path, key: WarningKey, upload: tuple[str, bytes], actor: str, history_id: int | None
) -> str:
    """Store one uploaded file (name, content) and record it; returns its generated id."""
    content = upload[1]
    name, content_type = check_upload(upload[0], content)
    attachment_id = secrets.token_hex(16)
    path = _stored_path(folder, attachment_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    row = {"id": attachment_id, **key._asdict(), "history_id": history_id, "filename": name}
    row |= {"content_type": content_type, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    row |= {"uploaded_by": actor, "uploaded_at": datetime.now(UTC)}
    with engine.begin() as connection:
        connection.execute(attachments.insert().values(**row))
    return attachment_id


def evidence_for(engine: sa.Engine, key: WarningKey) -> list[dict[str, Any]]:
    query = sa.select(attachments).where(
        attachments.c.theme == key.theme, attachments.c.as_of == key.as_of, attachments.c.entity_id == key.entity_id
    )
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(query.order_by(attachments.c.uploaded_at))]


def find_evidence(engine: sa.Engine, attachment_id: str) -> dict[str, Any] | None:
    """The record of a stored file by its id (anything that is not a generated id finds nothing)."""
    if not _ID.match(attachment_id):
        return None
    with engine.connect() as connection:
        row = connection.execute(sa.select(attachments).where(attachments.c.id == attachment_id)).first()
    return dict(row._mapping) if row else None


def read_evidence(folder: Path, record: dict[str, Any]) -> bytes | None:
    """The stored bytes, if the file is a regular file (not a symlink) whose content still matches its sha256."""
    if not _ID.match(str(record["id"])):
        return None
    try:
        fd = os.open(_stored_path(folder, record["id"]), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        content = handle.read()
    return content if hashlib.sha256(content).hexdigest() == record["sha256"] else None
