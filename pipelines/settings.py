"""Where riskgen keeps its state on one machine, and what today's business date is."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def workspace() -> Path:
    """The workspace folder: `$RISKGEN_HOME`, default `./workspace` (git-ignored)."""
    return Path(os.environ.get("RISKGEN_HOME", "workspace")).resolve()


def synthetic_data_dir(theme: str = "prepaid_cards") -> Path:
    """Where the demo keeps a theme's generated world (the stand-in for its delivered tables)."""
    return workspace() / "data" / theme


def validated_dir(as_of: date, source: Path) -> Path:
    """Where the validation of one delivery folder for one date goes (deliveries of different sources never mix)."""
    return workspace() / "validated" / as_of.isoformat() / source.resolve().name


def delivery_history_dir(source: Path) -> Path:
    """Row counts of earlier deliveries of one source (for the volume-collapse check)."""
    return workspace() / "state" / "deliveries" / source.resolve().name


def business_date(now: datetime | None = None) -> date:
    """Today's date in Asia/Shanghai, whatever the machine's time zone (a 01:00 run in Beijing is 17:00 UTC)."""
    moment = now or datetime.now(tz=BUSINESS_TZ)
    if moment.tzinfo is None:
        raise ValueError("business_date needs a time-zone-aware datetime")
    return moment.astimezone(BUSINESS_TZ).date()


def registry_uri() -> str:
    """The MLflow registry: `$MLFLOW_TRACKING_URI`, default a SQLite file in the workspace."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{workspace() / 'mlflow' / 'mlflow.db'}"


def training_dir(theme: str, cutoff: date) -> Path:
    return workspace() / "training" / theme / cutoff.isoformat()


def review_db_url() -> str:
    """The review database: `$RISKGEN_REVIEW_DB` (e.g. a PostgreSQL URL), default SQLite in the workspace."""
    url = os.environ.get("RISKGEN_REVIEW_DB")
    if url:
        return url
    path = workspace() / "review" / "review.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def review_secret_key() -> str:
    """The review app's server key (sessions, audit HMAC): `$RISKGEN_REVIEW_SECRET`, else a key file created once
    in the workspace with owner-only permissions."""
    key = os.environ.get("RISKGEN_REVIEW_SECRET")
    if key:
        return key
    path = workspace() / "state" / "review_secret.key"
    if not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
