"""The settings the review app is built from; the CLI in `pipelines` fills them from the workspace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class ReviewConfig:
    """Everything `create_app` needs; nothing is read from the environment inside the app.

    Attributes:
        db_url: SQLAlchemy URL of the review database (SQLite file or PostgreSQL).
        runs_dir: the workspace's `runs` folder; dossiers are served only from run folders inside it.
        secret_key: server key for session-token digests and the audit log's HMAC (at least 32 characters).
        attachments_dir: where evidence files are stored, each under a generated id.
        cookie_secure: mark cookies `Secure` (HTTPS only); off only for a local http server and tests.
        session_hours: absolute lifetime of a session.
        idle_minutes: a session unused this long is over.
        audit_anchor: optional append-only file receiving each closed day's audit head (keep it off this machine's DB).
        max_upload_bytes: largest evidence file accepted.
        page_size: rows per list page.
    """

    db_url: str
    runs_dir: Path
    secret_key: str
    attachments_dir: Path
    cookie_secure: bool = True
    session_hours: float = 8.0
    idle_minutes: float = 30.0
    audit_anchor: Path | None = None
    max_upload_bytes: int = 10 * 1024 * 1024
    page_size: int = 50

    def __post_init__(self) -> None:
        if len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ValueError(f"secret_key must have at least {MIN_SECRET_LENGTH} characters (use secrets.token_hex)")
        if self.page_size < 1 or self.max_upload_bytes < 1:
            raise ValueError("page_size and max_upload_bytes must be positive")
