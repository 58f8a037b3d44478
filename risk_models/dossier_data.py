"""What a dossier (研判档案) shows about one entity, collected point-in-time from the prepaid world's tables.

Everything is cut at the business date: a row counts only when it was recorded on or before the business date and
its own date is not later (the same rule `features.asof` applies to features), so a dossier re-rendered for an old
run shows what staff could have known then. Personal information is masked here, before it reaches any template:
a `DossierData` never holds a raw ID number, and complaint summaries are passed through `mask_text`. The complaints
table carries no complainant identity, and nothing here adds one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import polars as pl

from features.reference import ABNORMAL_REASONS, CLOSURE_KINDS, COMPLAINT_CATEGORIES, INDUSTRIES, SECTOR_LABELS
from features.store import TableStore
from risk_models.pii import mask_id_number, mask_text

ESCROW_DROP_SHARE = 0.3  # a month-on-month fall of the escrow balance by this share is an event
ESCROW_DROP_MIN_YUAN = 1_000.0  # ...when it is at least this much money (tiny accounts are noise)
ELDERLY_AGE = 60  # DOMAIN.md: a change to a non-local elderly legal representative is a closer signal
INFLOW_KINDS = ("sale", "recharge")
REGISTRY_STATUS = {
    "active": ("存续", "active"),
    "deregistered": ("注销", "deregistered"),
    "revoked": ("吊销", "revoked"),
}
COMPLAINT_CATEGORIES_EN = {
    "refund_refusal": "refund refusal",
    "closure_absconding": "closure/absconding",
    "service_decline": "service decline",
    "false_advertising": "false advertising",
    "contract_dispute": "contract dispute",
    "other": "other",
}
CLOSURE_KINDS_EN = {"absconding": "absconding", "closure": "closure", "deregistration": "deregistration"}

TABLES = (
    "enterprises",
    "legal_rep_history",
    "abnormal_list",
    "complaints",
    "prepaid_transactions",
    "escrow_balances",
    "closures",
)
EventKind = Literal["complaint", "legal_rep", "abnormal_listed", "abnormal_removed", "escrow_drop", "closure"]
# Same-day events are listed in this order (and then by their own key), so the timeline is deterministic.
KIND_ORDER: dict[str, int] = {
    "closure": 0,
    "abnormal_listed": 1,
    "abnormal_removed": 2,
    "legal_rep": 3,
    "escrow_drop": 4,
    "complaint": 5,
}


@dataclass(frozen=True)
class LegalRep:
    """The legal representative in office on the business date (name public, ID number masked)."""

    name: str
    id_number_masked: str
    age: int | None  # on the business date: age at appointment plus whole years in office
    age_at_appointment: int | None
    is_local: bool | None
    since: date


@dataclass(frozen=True)
class AbnormalListing:
    """One listing on the abnormal operation list; `removed_at` only when the removal happened by the business date."""

    listed_at: date
    reason: str
    reason_zh: str
    removed_at: date | None


@dataclass(frozen=True)
class Profile:
    """Registry facts about the entity as known on the business date."""

    entity_id: str
    name: str
    industry_code: str
    industry_zh: str
    sector: str
    sector_zh: str
    town: str
    grid_cell: str
    registered_at: date | None
    registered_capital: float | None
    registry_status: str
    registry_status_zh: str
    deregistered_at: date | None
    prepaid_filing: bool | None
    legal_rep: LegalRep | None
    abnormal_listings: tuple[AbnormalListing, ...]

    @property
    def abnormal_active(self) -> tuple[AbnormalListing, ...]:
        return tuple(a for a in self.abnormal_listings if a.removed_at is None)


@dataclass(frozen=True)
class MonthlySeries:
    """Calendar-month totals up to the business date's month (the last month may be partial)."""

    months: tuple[str, ...]  # "YYYY-MM"
    sales_recharges: tuple[float, ...]
    redemptions: tuple[float, ...]
    refunds: tuple[float, ...]
    escrow_balance: tuple[float | None, ...]  # last reported balance dated in the month; None when none was reported
    complaints: tuple[int, ...]  # by incident month
    last_month_partial: bool


@dataclass(frozen=True)
class TimelineEvent:
    """One dated event for the timeline; texts are plain (the template escapes them)."""

    on: date
    kind: EventKind
    title_zh: str
    title_en: str
    detail_zh: str
    detail_en: str
    amount: float | None = None
    note: str = ""  # masked free text (complaint summary)
    warn: bool = False  # highlighted as a risk signal
    key: str = ""  # tie-breaker for same-day events (complaint id, listing date...)


@dataclass(frozen=True)
class DossierData:
    """Everything the dossier shows that comes from the tables, as of `as_of`."""

    entity_id: str
    as_of: date
    months: int
    profile: Profile
    monthly: MonthlySeries
    timeline: tuple[TimelineEvent, ...]


def collect_dossier_data(store: TableStore, entity_id: str, as_of: date, months: int = 24) -> DossierData:
    """Profile, monthly series and timeline of one entity, from rows recorded on or before `as_of`.

    Args:
        store: validated tables (needs `enterprises`; the other prepaid tables are used when loaded).
        entity_id: the entity's credit code.
        as_of: the business date of the warning run.
        months: how many calendar months the charts and the timeline cover (ending with `as_of`'s month).

    Raises:
        LookupError: the entity is not in the registry as known on `as_of`.
    """
    return collect_many(store, [entity_id], as_of, months)[entity_id]


def collect_many(store: TableStore, entity_ids: Iterable[str], as_of: date, months: int = 24) -> dict[str, DossierData]:
    """`collect_dossier_data` for many entities with one read of every table."""
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    ids = sorted(set(entity_ids))
    if not ids:
        return {}
    month_starts = _month_starts(as_of, months)
    tables = _Tables(store, ids, as_of)
    monthly = _monthly(tables, month_starts, as_of)
    out = {}
    for entity_id in ids:
        profile = _profile(tables, entity_id, as_of)
        series = monthly[entity_id]
        events = _timeline(tables, entity_id, series, month_starts[0], as_of)
        out[entity_id] = DossierData(entity_id, as_of, months, profile, series.public, events)
    return out


def _month_starts(as_of: date, months: int) -> list[date]:
    """First days of the `months` calendar months ending with `as_of`'s month, oldest first."""
    index = as_of.year * 12 + as_of.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


class _Tables:
    """The entities' rows of each table, cut at the business date (recorded and dated on or before it)."""

    def __init__(self, store: TableStore, ids: Sequence[str], as_of: date) -> None:
        self.as_of = as_of
        self.frames: dict[str, pl.DataFrame] = {}
        for name in TABLES:
            self.frames[name] = self._read(store, name, ids)

    def _read(self, store: TableStore, name: str, ids: Sequence[str]) -> pl.DataFrame:
        if name not in store.frames:
            if name == "enterprises":
                raise KeyError("a dossier needs the `enterprises` table; it is not loaded in this store")
            return pl.DataFrame()
        contract = store.contract(name)
        frame = store.frame(name).filter(pl.col(contract.entity_key).is_in(list(ids)))
        if contract.recorded_at:
            frame = frame.filter(pl.col(contract.recorded_at) <= self.as_of)
        # Entity snapshots are dated by registration, which may precede the record; other rows must have happened.
        if contract.event_at and contract.kind != "entity":
            frame = frame.filter(pl.col(contract.event_at) <= self.as_of)
        return frame.rename({contract.entity_key: "_entity"}).collect()

    def rows(self, name: str, entity_id: str) -> pl.DataFrame:
        frame = self.frames[name]
        if frame.is_empty():
            return frame
        return frame.filter(pl.col("_entity") == entity_id)


@dataclass(frozen=True)
class _Monthly:
    public: MonthlySeries
    escrow_dates: tuple[date | None, ...]  # balance date behind each month's balance
    escrow_before: float | None  # balance of the month before the window (so the first month can show a drop)


def _monthly(tables: _Tables, month_starts: list[date], as_of: date) -> dict[str, _Monthly]:
    labels = tuple(f"{m.year:04d}-{m.month:02d}" for m in month_starts)
    index = {m: i for i, m in enumerate(month_starts)}
    start = month_starts[0]
    n = len(month_starts)
    ids = tables.frames["enterprises"]["_entity"].unique().to_list()
    flows: dict[str, dict[str, list[float]]] = {
        e: {k: [0.0] * n for k in ("inflow", "redemption", "refund")} for e in ids
    }
    txn = tables.frames["prepaid_transactions"]
    if not txn.is_empty():
        sums = (
            txn.filter(pl.col("txn_date") >= start)
            .with_columns(
                pl.col("txn_date").dt.truncate("1mo").alias("_month"),
                pl.when(pl.col("kind").is_in(INFLOW_KINDS))
                .then(pl.lit("inflow"))
                .otherwise(pl.col("kind"))
                .alias("_k"),
            )
            .group_by("_entity", "_month", "_k")
            .agg(pl.col("amount").sum())
        )
        for entity, month, kind, amount in sums.iter_rows():
            if entity in flows and kind in flows[entity]:
                flows[entity][kind][index[month]] = float(amount)
    counts: dict[str, list[int]] = {e: [0] * n for e in ids}
    complaints = tables.frames["complaints"]
    if not complaints.is_empty():
        per_month = (
            complaints.filter(pl.col("event_at") >= start)
            .group_by("_entity", pl.col("event_at").dt.truncate("1mo").alias("_month"))
            .len()
        )
        for entity, month, count in per_month.iter_rows():
            if entity in counts:
                counts[entity][index[month]] = int(count)
    balances, balance_dates, before = _escrow(tables, ids, month_starts)
    partial = _next_day(as_of).month == as_of.month  # the business date is not a month-end
    out = {}
    for e in ids:
        public = MonthlySeries(
            months=labels,
            sales_recharges=tuple(round(v, 2) for v in flows[e]["inflow"]),
            redemptions=tuple(round(v, 2) for v in flows[e]["redemption"]),
            refunds=tuple(round(v, 2) for v in flows[e]["refund"]),
            escrow_balance=tuple(balances[e]),
            complaints=tuple(counts[e]),
            last_month_partial=partial,
        )
        out[e] = _Monthly(public, tuple(balance_dates[e]), before.get(e))
    return out


def _next_day(day: date) -> date:
    return date.fromordinal(day.toordinal() + 1)


def _escrow(
    tables: _Tables, ids: list[str], month_starts: list[date]
) -> tuple[dict[str, list[float | None]], dict[str, list[date | None]], dict[str, float]]:
    """Last reported balance per month (by balance date), and the balance of the month before the window."""
    n = len(month_starts)
    index = {m: i for i, m in enumerate(month_starts)}
    balances: dict[str, list[float | None]] = {e: [None] * n for e in ids}
    dates: dict[str, list[date | None]] = {e: [None] * n for e in ids}
    before: dict[str, float] = {}
    frame = tables.frames["escrow_balances"]
    if frame.is_empty():
        return balances, dates, before
    previous_month = _month_starts(month_starts[0], 2)[0]
    latest = (
        frame.filter(pl.col("balance_date") >= previous_month)
        .with_columns(pl.col("balance_date").dt.truncate("1mo").alias("_month"))
        .sort("_entity", "balance_date", "recorded_at")
        .group_by("_entity", "_month", maintain_order=True)
        .last()
    )
    for row in latest.select("_entity", "_month", "balance_date", "balance").iter_rows():
        entity, month, balance_date, balance = row
        if entity not in balances:
            continue
        if month == previous_month:
            before[entity] = float(balance)
        else:
            balances[entity][index[month]] = round(float(balance), 2)
            dates[entity][index[month]] = balance_date
    return balances, dates, before


def _profile(tables: _Tables, entity_id: str, as_of: date) -> Profile:
    registry = tables.rows("enterprises", entity_id).sort("recorded_at")
    if registry.is_empty():
        raise LookupError(f"{entity_id} is not in the registry as known on {as_of.isoformat()}")
    row = registry.row(-1, named=True)
    industry = str(row.get("industry_code") or "")
    sector = str(row.get("sector") or "")
    deregistered = row.get("deregistered_at")
    status = str(row.get("status") or "")
    if deregistered is not None and deregistered > as_of:  # not yet happened on the business date
        deregistered, status = None, "active"
    status_zh, status_en = REGISTRY_STATUS.get(status, (status, status))
    capital = row.get("registered_capital")
    return Profile(
        entity_id=entity_id,
        name=str(row.get("name") or ""),
        industry_code=industry,
        industry_zh=INDUSTRIES.get(industry, ("", ""))[1],
        sector=sector,
        sector_zh=SECTOR_LABELS.get(sector, sector),
        town=str(row.get("town") or ""),
        grid_cell=str(row.get("grid_cell") or ""),
        registered_at=row.get("registered_at"),
        registered_capital=None if capital is None else float(capital),
        registry_status=status_en,
        registry_status_zh=status_zh,
        deregistered_at=deregistered,
        prepaid_filing=row.get("prepaid_filing"),
        legal_rep=_current_rep(tables.rows("legal_rep_history", entity_id), as_of),
        abnormal_listings=_abnormal(tables.rows("abnormal_list", entity_id), as_of),
    )


def _years_between(start: date, end: date) -> int:
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def _current_rep(reps: pl.DataFrame, as_of: date) -> LegalRep | None:
    """The visible term with the latest start (as `features` reads it); None when that term ended by `as_of`."""
    if reps.is_empty():
        return None
    row = reps.sort("valid_from", "recorded_at").row(-1, named=True)
    if row.get("valid_to") is not None and row["valid_to"] <= as_of:
        return None
    age0 = row.get("rep_age")
    return LegalRep(
        name=str(row.get("rep_name") or ""),
        id_number_masked=mask_id_number(row.get("rep_id_number")),
        age=None if age0 is None else int(age0) + _years_between(row["valid_from"], as_of),
        age_at_appointment=None if age0 is None else int(age0),
        is_local=row.get("rep_is_local"),
        since=row["valid_from"],
    )


def _abnormal(rows: pl.DataFrame, as_of: date) -> tuple[AbnormalListing, ...]:
    if rows.is_empty():
        return ()
    listings = []
    for row in rows.sort("listed_at", "reason").iter_rows(named=True):
        removed = row.get("removed_at")
        reason = str(row.get("reason") or "")
        listings.append(
            AbnormalListing(
                listed_at=row["listed_at"],
                reason=reason,
                reason_zh=ABNORMAL_REASONS.get(reason, reason),
                removed_at=removed if removed is not None and removed <= as_of else None,
            )
        )
    return tuple(listings)


def _yuan(value: float) -> str:
    return f"{value:,.0f}"


def _local_zh(is_local: Any) -> str:
    return "本地" if is_local is True else "外地" if is_local is False else "户籍未知"


def _local_en(is_local: Any) -> str:
    return "local" if is_local is True else "non-local" if is_local is False else "residence unknown"


def _timeline(
    tables: _Tables, entity_id: str, monthly: _Monthly, start: date, as_of: date
) -> tuple[TimelineEvent, ...]:
    events: list[TimelineEvent] = []
    events += _complaint_events(tables.rows("complaints", entity_id), start)
    events += _rep_events(tables.rows("legal_rep_history", entity_id), start)
    events += _abnormal_events(tables.rows("abnormal_list", entity_id), start, as_of)
    events += _escrow_events(monthly)
    events += _closure_events(tables.rows("closures", entity_id), start)
    events.sort(key=lambda e: (-e.on.toordinal(), KIND_ORDER[e.kind], e.key))
    return tuple(events)


def _complaint_events(rows: pl.DataFrame, start: date) -> list[TimelineEvent]:
    if rows.is_empty():
        return []
    events = []
    for row in rows.filter(pl.col("event_at") >= start).iter_rows(named=True):
        category = str(row.get("category") or "")
        amount = row.get("amount")
        channel = str(row.get("channel") or "")
        recorded = row["recorded_at"]
        money_zh = f"，涉及金额 {_yuan(amount)} 元" if amount is not None else ""
        money_en = f", amount {_yuan(amount)} yuan" if amount is not None else ""
        events.append(
            TimelineEvent(
                on=row["event_at"],
                kind="complaint",
                title_zh=f"投诉：{COMPLAINT_CATEGORIES.get(category, category)}",
                title_en=f"Complaint: {COMPLAINT_CATEGORIES_EN.get(category, category)}",
                detail_zh=f"{channel} 渠道，{recorded.isoformat()} 登记{money_zh}",
                detail_en=f"via {channel}, registered {recorded.isoformat()}{money_en}",
                amount=None if amount is None else float(amount),
                note=mask_text(row.get("text")),
                warn=category == "closure_absconding",
                key=str(row.get("complaint_id") or ""),
            )
        )
    return events


def _rep_events(rows: pl.DataFrame, start: date) -> list[TimelineEvent]:
    if rows.is_empty():
        return []
    events = []
    previous: dict[str, Any] | None = None
    for row in rows.sort("valid_from", "recorded_at").iter_rows(named=True):
        if row["valid_from"] >= start:
            age = row.get("rep_age")
            local = row.get("rep_is_local")
            masked = mask_id_number(row.get("rep_id_number"))
            who_zh = f"{row.get('rep_name') or ''}（身份证 {masked}，{age} 岁，{_local_zh(local)}）"
            who_en = f"{row.get('rep_name') or ''} (ID {masked}, age {age}, {_local_en(local)})"
            if previous is None:
                title_zh, title_en = "法定代表人任职", "Legal representative appointed"
                detail_zh, detail_en = f"任职：{who_zh}", f"appointed: {who_en}"
            else:
                title_zh, title_en = "法定代表人变更", "Legal representative changed"
                detail_zh = f"由 {previous.get('rep_name') or ''} 变更为 {who_zh}"
                detail_en = f"from {previous.get('rep_name') or ''} to {who_en}"
            events.append(
                TimelineEvent(
                    on=row["valid_from"],
                    kind="legal_rep",
                    title_zh=title_zh,
                    title_en=title_en,
                    detail_zh=detail_zh,
                    detail_en=detail_en,
                    warn=previous is not None and local is False and age is not None and age >= ELDERLY_AGE,
                    key=row["valid_from"].isoformat(),
                )
            )
        previous = row
    return events


def _abnormal_events(rows: pl.DataFrame, start: date, as_of: date) -> list[TimelineEvent]:
    if rows.is_empty():
        return []
    events = []
    for row in rows.iter_rows(named=True):
        reason = str(row.get("reason") or "")
        reason_zh = ABNORMAL_REASONS.get(reason, reason)
        reason_en = reason.replace("_", " ")
        if row["listed_at"] >= start:
            events.append(
                TimelineEvent(
                    on=row["listed_at"],
                    kind="abnormal_listed",
                    title_zh="列入经营异常名录",
                    title_en="Listed on the abnormal operation list",
                    detail_zh=f"原因：{reason_zh}",
                    detail_en=f"reason: {reason_en}",
                    warn=True,
                    key=reason,
                )
            )
        removed = row.get("removed_at")
        if removed is not None and start <= removed <= as_of:
            events.append(
                TimelineEvent(
                    on=removed,
                    kind="abnormal_removed",
                    title_zh="移出经营异常名录",
                    title_en="Removed from the abnormal operation list",
                    detail_zh=f"列入日期 {row['listed_at'].isoformat()}，原因：{reason_zh}",
                    detail_en=f"listed {row['listed_at'].isoformat()}, reason: {reason_en}",
                    key=reason,
                )
            )
    return events


def _escrow_events(monthly: _Monthly) -> list[TimelineEvent]:
    events = []
    previous = monthly.escrow_before
    for balance, on in zip(monthly.public.escrow_balance, monthly.escrow_dates, strict=True):
        if balance is None or on is None:
            continue  # a month without a report neither drops nor resets the comparison
        if previous is not None and previous > 0:
            fall = previous - balance
            if fall >= ESCROW_DROP_MIN_YUAN and fall / previous >= ESCROW_DROP_SHARE:
                share = fall / previous
                events.append(
                    TimelineEvent(
                        on=on,
                        kind="escrow_drop",
                        title_zh=f"存管余额下降 {share:.0%}",
                        title_en=f"Escrow balance fell {share:.0%}",
                        detail_zh=f"由 {_yuan(previous)} 元降至 {_yuan(balance)} 元",
                        detail_en=f"from {_yuan(previous)} to {_yuan(balance)} yuan",
                        amount=round(fall, 2),
                        warn=share >= 0.5,
                        key=on.isoformat(),
                    )
                )
        previous = balance
    return events


def _closure_events(rows: pl.DataFrame, start: date) -> list[TimelineEvent]:
    if rows.is_empty():
        return []
    events = []
    for row in rows.filter(pl.col("closed_at") >= start).iter_rows(named=True):
        kind = str(row.get("kind") or "")
        events.append(
            TimelineEvent(
                on=row["closed_at"],
                kind="closure",
                title_zh=f"结果事件：{CLOSURE_KINDS.get(kind, kind)}",
                title_en=f"Outcome: {CLOSURE_KINDS_EN.get(kind, kind)}",
                detail_zh=f"{row['recorded_at'].isoformat()} 确认",
                detail_en=f"confirmed {row['recorded_at'].isoformat()}",
                warn=True,
                key=kind,
            )
        )
    return events
