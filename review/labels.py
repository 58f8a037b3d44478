"""Display labels (Chinese first, English second) for themes, tiers, statuses and groups."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

from features.reference import SECTOR_LABELS
from review.dispositions import STATUS_LABELS as DISPOSITION_LABELS

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
TIER_LABELS: dict[str, tuple[str, str]] = {
    "red": ("红色", "red"),
    "orange": ("橙色", "orange"),
    "yellow": ("黄色", "yellow"),
}
TIER_ORDER: tuple[str, ...] = ("red", "orange", "yellow")
LIST_STATUS_LABELS: dict[str, tuple[str, str]] = {
    "new": ("新增", "new"),
    "escalated": ("升级", "escalated"),
    "persisting": ("持续", "persisting"),
    "de-escalated": ("降级", "de-escalated"),
    "dropped": ("移出", "dropped"),
}


@cache
def theme_titles() -> dict[str, tuple[str, str]]:
    """Titles of the shipped themes; an unknown theme shows its name."""
    try:
        from risk_models.themes import shipped_themes

        return {name: (spec.title_zh, spec.title_en) for name, spec in shipped_themes().items()}
    except Exception:  # a broken theme file must not take the review app down
        return {}


@cache
def group_labels() -> dict[str, tuple[str, str]]:
    labels = {key: (zh, key.replace("_", " ")) for key, zh in SECTOR_LABELS.items()}
    try:
        from features.tables_fire_lanes import LANE_TYPES

        labels |= {key: (zh, key.replace("_", " ")) for key, zh in LANE_TYPES.items()}
    except ImportError:
        pass
    return labels


def pick(pair: tuple[str, str] | None, lang: str, fallback: str = "") -> str:
    if pair is None:
        return fallback
    return pair[1] if lang == "en" else pair[0]


def theme_title(theme: str, lang: str) -> str:
    return pick(theme_titles().get(theme), lang, theme)


def tier_label(tier: str | None, lang: str) -> str:
    return pick(TIER_LABELS.get(tier or ""), lang, tier or "")


def list_status_label(status: str | None, lang: str) -> str:
    return pick(LIST_STATUS_LABELS.get(status or ""), lang, status or "")


def disposition_label(status: str | None, lang: str) -> str:
    return pick(DISPOSITION_LABELS.get(status or "pending"), lang, status or "")


def group_label(group: str | None, lang: str) -> str:
    return pick(group_labels().get(group or ""), lang, group or "")


def local_time(value: datetime | str | None, seconds: bool = False) -> str:
    """A stored UTC time (naive from SQLite, or ISO text) shown in Asia/Shanghai, as staff read clocks."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def role_label(role: str, lang: str) -> str:
    from review.users import ROLE_LABELS

    return pick(ROLE_LABELS.get(role), lang, role)
