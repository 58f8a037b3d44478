"""Dossiers (研判档案): one self-contained HTML page per warned entity, for the researcher doing 研判.

The page has no JavaScript and no external resources (inline CSS, inline SVG), prints on A4, and is Chinese first with
English alongside (`lang="en"` swaps the order). It is rendered with a jinja2 environment that autoescapes every value
and fails on undefined names, so a firm called `<script>…` or `javascript:…` shows up as text. Personal data arrives
already masked from `collect_dossier_data`; complaint texts are masked again here before rendering.

A warning is an aid to research, never a decision: every page says so in both languages.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from markupsafe import Markup

from features.atomic import write_text_atomic
from features.blocks.base import FeatureColumn, registered_blocks
from features.store import TableStore
from risk_models.dossier_data import DossierData, TimelineEvent, collect_many
from risk_models.html_templates import html_environment
from risk_models.pii import mask_text
from risk_models.svg_charts import Series, Step, compact_number, line_chart, score_history, time_chart, waterfall

TEMPLATE = "dossier.html.j2"
CHART_WIDTH = 900  # SVG units; about the page's content width in px, so chart text matches the page text
WATERFALL_TOP = 8  # contributions shown one by one; the rest are summed into one bar
TIERS: dict[str, tuple[str, str, str]] = {  # tier -> (Chinese label, English label, colour)
    "red": ("红色预警", "Red", "#c62828"),
    "orange": ("橙色预警", "Orange", "#e8710a"),
    "yellow": ("黄色预警", "Yellow", "#f2b705"),
}
STATUSES: dict[str, tuple[str, str]] = {
    "new": ("新增", "new"),
    "escalated": ("升级", "escalated"),
    "persisting": ("持续", "persisting"),
    "de-escalated": ("降级", "de-escalated"),
    "dropped": ("移出", "dropped"),
}
FLOW_COLOURS = {"inflow": "#1f6fb2", "redemption": "#2e9c8a", "refund": "#d0521b"}
ESCROW_COLOUR = "#6a4fb3"
COMPLAINT_COLOUR = "#c0392b"
SAFE_ID = re.compile(r"^[0-9A-Za-z]{1,64}$")  # dossier file names come from entity ids only, never from a path

# (zh, en, prefixes of reason codes / triggers that make the item especially relevant)
CHECKLIST: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "调取资金存管账户对账单，核对存管余额与预收款余额",
        "Obtain the escrow account statement; reconcile the balance with prepaid liabilities",
        ("escrow", "liability"),
    ),
    (
        "清点未兑付预付卡（会员卡、次卡）数量及余额",
        "Count outstanding (unredeemed) prepaid and membership cards and their balances",
        ("liability", "card_sales", "presale", "sales"),
    ),
    (
        "现场核实经营场所是否正常营业（门店、员工、课程/服务排期）",
        "Verify on site that the premises are operating (shop open, staff present, classes/services scheduled)",
        ("activity", "redemption", "closure_complaints", "abnormal"),
    ),
    (
        "当面核实法定代表人身份，了解实际控制人及近期股权、人员变动",
        "Verify the legal representative in person; identify who actually runs the business and recent changes",
        ("legal_rep",),
    ),
    (
        "核查退费申请及处理记录，了解未处理的退费诉求",
        "Review refund requests and how they were handled; list unresolved refund claims",
        ("refund", "complaint"),
    ),
    (
        "核查近期促销、充值活动（周年庆、充值赠送等）及预收款去向",
        "Check recent promotions and recharge drives (anniversary sales, bonus top-ups) and where the money went",
        ("presale", "sales", "card_sales"),
    ),
    (
        "了解房屋租约到期、拖欠工资及经营困难情况",
        "Ask about lease expiry, wage arrears and operating difficulties",
        ("activity", "redemption_trend"),
    ),
    (
        "核实经营异常名录列入原因及整改情况",
        "Check why the firm is on the abnormal operation list and what it has done about it",
        ("abnormal",),
    ),
    (
        "告知经营者预付卡管理义务，视情况约谈或发送提示函",
        "Remind the operator of its prepaid-card obligations; interview or send a reminder letter as appropriate",
        (),
    ),
    (
        "记录研判结论（确认风险 / 排除）及处置建议，并在系统中登记",
        "Record the research conclusion (confirmed risk / excluded) and the proposed disposal in the system",
        (),
    ),
)


@functools.lru_cache(maxsize=1)
def _feature_columns() -> dict[str, FeatureColumn]:
    """Every registered feature column by its frame name (`block__column`), for labels and value formats."""
    return {b.output_name(c.name): c for b in registered_blocks().values() for c in b.columns}


def feature_label(feature: str, lang: str = "zh", labels: Mapping[str, Any] | None = None) -> str:
    """A feature's label in `lang`: from `labels` (feature -> str or {"zh", "en"}) or the block catalogue."""
    given = (labels or {}).get(feature)
    if isinstance(given, str):
        return given
    if isinstance(given, Mapping) and given.get(lang):
        return str(given[lang])
    column = _feature_columns().get(feature)
    if column is None:
        return feature
    return column.label_en if lang == "en" else column.label_zh


def format_value(feature: str, value: Any, lang: str = "zh") -> str:
    """A feature value formatted by its declared kind (amount in yuan, ratio, days, flag, count)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    column = _feature_columns().get(feature)
    kind = column.kind if column else "number"
    if isinstance(value, bool) or kind == "flag":
        yes = bool(value)
        return ("是" if yes else "否") if lang != "en" else ("yes" if yes else "no")
    if not isinstance(value, int | float):
        return str(value)
    if kind == "amount":
        return f"{value:,.0f} 元" if lang != "en" else f"{value:,.0f} yuan"
    if kind == "days":
        return f"{value:,.0f} 天" if lang != "en" else f"{value:,.0f} days"
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "ratio":
        return f"{value:.2f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"


def _pick(lang: str, zh: str, en: str) -> tuple[str, str]:
    """(primary, secondary) text for the page language."""
    return (en, zh) if lang == "en" else (zh, en)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _header(data: DossierData, warning: Mapping[str, Any], lang: str) -> dict[str, Any]:
    tier = warning.get("tier")
    tier_zh, tier_en, colour = TIERS.get(str(tier), (str(warning.get("tier_zh") or "—"), str(tier or "—"), "#8a94a0"))
    status = str(warning.get("status") or "")
    status_zh, status_en = STATUSES.get(status, (str(warning.get("status_zh") or status), status))
    probability = warning.get("probability")
    rank = warning.get("rank")
    return {
        "name": data.profile.name or str(warning.get("entity__name") or ""),
        "entity_id": data.entity_id,
        "tier": str(tier) if tier in TIERS else "none",  # used as a CSS class: known names only
        "tier_label": _pick(lang, tier_zh, tier_en),
        "tier_colour": colour,
        "status": status if status in STATUSES else "other",
        "status_label": _pick(lang, status_zh, status_en),
        "probability": "—" if probability is None else f"{float(probability):.1%}",
        "rank": "—" if rank is None else f"{int(rank):,}",
        "business_date": data.as_of.isoformat(),
    }


def _profile_rows(data: DossierData, lang: str) -> list[dict[str, Any]]:
    p = data.profile
    en = lang == "en"
    yes, no, unknown = ("yes", "no", "unknown") if en else ("是", "否", "未知")

    def flag(value: bool | None) -> str:
        return unknown if value is None else yes if value else no

    capital = "—" if p.registered_capital is None else f"{p.registered_capital:,.0f} {'yuan' if en else '元'}"
    status = p.registry_status if en else p.registry_status_zh
    if p.deregistered_at is not None:
        status += f" ({p.deregistered_at.isoformat()})"
    rows = [
        ("行业", "Industry", f"{p.industry_code} {p.industry_zh}".strip()),
        ("行业板块", "Sector", p.sector_zh if not en else f"{p.sector} ({p.sector_zh})"),
        ("所属镇街", "Town / street", p.town),
        ("网格", "Grid cell", p.grid_cell),
        ("成立日期", "Registered", p.registered_at.isoformat() if p.registered_at else "—"),
        ("注册资本", "Registered capital", capital),
        ("登记状态", "Registry status", status),
        ("预付卡备案", "Prepaid-card filing", flag(p.prepaid_filing)),
    ]
    return [{"label": _pick(lang, zh, label_en), "value": value} for zh, label_en, value in rows]


def _legal_rep(data: DossierData, lang: str) -> dict[str, Any] | None:
    rep = data.profile.legal_rep
    if rep is None:
        return None
    en = lang == "en"
    local = {True: ("本地户籍", "local"), False: ("外地户籍", "non-local"), None: ("户籍未知", "unknown")}[rep.is_local]
    elderly_nonlocal = rep.is_local is False and rep.age is not None and rep.age >= 60
    return {
        "name": rep.name,
        "id_masked": rep.id_number_masked,
        "age": "—" if rep.age is None else (f"{rep.age}" if en else f"{rep.age} 岁"),
        "age_at_appointment": "—" if rep.age_at_appointment is None else str(rep.age_at_appointment),
        "local": _pick(lang, *local)[0],
        "since": rep.since.isoformat(),
        "flag": elderly_nonlocal,
    }


def _abnormal(data: DossierData, lang: str) -> dict[str, Any]:
    listings = data.profile.abnormal_listings
    active = [a for a in listings if a.removed_at is None]
    return {
        "active": [{"listed_at": a.listed_at.isoformat(), "reason": a.reason_zh} for a in active],
        "removed": [
            {"listed_at": a.listed_at.isoformat(), "removed_at": a.removed_at.isoformat(), "reason": a.reason_zh}
            for a in listings
            if a.removed_at is not None
        ],
    }


def _reasons(reasons: Sequence[Mapping[str, Any]], lang: str) -> list[dict[str, Any]]:
    contributions = [abs(float(r.get("contribution") or 0.0)) for r in reasons]
    biggest = max([*contributions, 1e-12])
    rows = []
    for r, size in zip(reasons, contributions, strict=True):
        value = float(r.get("contribution") or 0.0)
        primary, secondary = _pick(lang, str(r.get("text_zh") or ""), str(r.get("text_en") or ""))
        rows.append(
            {
                "primary": primary,
                "secondary": secondary,
                "code": str(r.get("code") or ""),
                "contribution": f"{value:+.2f}",
                "up": value > 0,
                "width": f"{100 * size / biggest:.0f}",
            }
        )
    return rows


def _waterfall_svg(spec: Mapping[str, Any], lang: str) -> Markup:
    contributions: Mapping[str, float] = spec.get("contributions") or {}
    base, raw = float(spec["base"]), float(spec["raw"])
    labels = spec.get("labels")
    top_n = int(spec.get("top", WATERFALL_TOP))
    ordered = sorted(contributions.items(), key=lambda kv: (-abs(float(kv[1])), kv[0]))
    shown = ordered[:top_n]
    steps = [Step(feature_label(f, lang, labels), float(c)) for f, c in shown]
    rest = raw - base - sum(float(c) for _, c in shown)  # closes the waterfall exactly at the raw score
    n_rest = len(ordered) - len(shown)
    if n_rest or abs(rest) > 1e-9:
        steps.append(Step(f"其余 {n_rest} 项" if lang != "en" else f"{n_rest} other features", rest))
    base_label, total_label = (
        _pick(lang, "基准值（平均）", "base value (average)")[0],
        _pick(lang, "模型得分", "raw score")[0],
    )
    title = _pick(lang, "特征贡献瀑布图（对数几率）", "Feature contributions (log-odds)")[0]
    # English labels run longer than Chinese ones: give them more room before clipping.
    label_width, label_chars = (340, 52) if lang == "en" else (260, 36)
    svg = waterfall(
        base,
        steps,
        raw,
        title=title,
        base_label=base_label,
        total_label=total_label,
        width=CHART_WIDTH,
        label_width=label_width,
        label_chars=label_chars,
    )
    return Markup(svg)


def _peers(
    peers: Mapping[str, Any], reasons: Sequence[Mapping[str, Any]], lang: str, labels: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """Peer rows for the features the reasons name (in reason order), each once."""
    wanted: list[str] = []
    for r in reasons:
        for candidate in (r.get("feature"), r.get("code"), str(r.get("code") or "").split(":")[0]):
            if candidate and candidate in peers and candidate not in wanted:
                wanted.append(str(candidate))
                break
    rows = []
    for feature in wanted:
        entry = peers[feature]
        value: Any
        median: Any
        if isinstance(entry, Mapping):
            value, median = entry.get("value"), entry.get("median")
            label_given = {"zh": entry.get("label_zh"), "en": entry.get("label_en")}
        else:
            value, median = entry
            label_given = {}
        lang_labels = dict(labels or {})
        if label_given.get("zh") or label_given.get("en"):
            lang_labels[feature] = label_given
        rows.append(
            {
                "label": feature_label(feature, lang, lang_labels),
                "other_label": feature_label(feature, "zh" if lang == "en" else "en", lang_labels),
                "code": feature,
                "value": format_value(feature, value, lang),
                "median": format_value(feature, median, lang),
                "comparison": _comparison(feature, value, median, lang),
                "riskier": _riskier(feature, value, median),
            }
        )
    return rows


def _riskier(feature: str, value: Any, median: Any) -> bool:
    """The firm sits on the risky side of its peers (when the feature declares which side that is)."""
    column = _feature_columns().get(feature)
    if column is None or column.higher_is_riskier is None or not (_is_number(value) and _is_number(median)):
        return False
    return float(value) > float(median) if column.higher_is_riskier else float(value) < float(median)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))


def _comparison(feature: str, value: Any, median: Any, lang: str) -> str:
    """Ratio to the peer median (×2.3) or, when the median is 0 or the signs differ, the difference."""
    column = _feature_columns().get(feature)
    kind = column.kind if column else "number"
    if kind == "flag" or not (_is_number(value) and _is_number(median)):
        return "—"
    v, m = float(value), float(median)
    if v == m:
        return "持平" if lang != "en" else "equal"
    if m != 0 and v / m > 0:
        return f"×{v / m:.1f}"
    if kind in ("count", "days", "amount"):
        return f"{v - m:+,.0f}"
    return f"{v - m:+,.2f}"


def _charts(data: DossierData, lang: str) -> list[dict[str, Any]]:
    m = data.monthly

    def fmt(v: float) -> str:
        return compact_number(v, lang)

    def name(zh: str, en: str) -> str:
        return _pick(lang, zh, en)[0]

    no_data = name("无数据", "no data")
    flows = line_chart(
        m.months,
        [
            Series(name("售卡+充值", "sales + recharges"), m.sales_recharges, FLOW_COLOURS["inflow"]),
            Series(name("消费核销", "redemptions"), m.redemptions, FLOW_COLOURS["redemption"]),
            Series(name("退款", "refunds"), m.refunds, FLOW_COLOURS["refund"]),
        ],
        title=name("预付卡资金流（元/月）", "Prepaid card flows (yuan per month)"),
        fmt=fmt,
        width=CHART_WIDTH,
        height=230,
        empty_text=no_data,
    )
    escrow = line_chart(
        m.months,
        [Series(name("存管余额", "escrow balance"), m.escrow_balance, ESCROW_COLOUR, "area")],
        title=name("资金存管账户月末余额（元）", "Escrow balance at month end (yuan)"),
        fmt=fmt,
        width=CHART_WIDTH // 2,
        height=200,
        empty_text=name("无存管余额报送", "no escrow balance reported"),
    )
    complaints = time_chart(
        m.months,
        [Series(name("投诉数", "complaints"), [float(c) for c in m.complaints], COMPLAINT_COLOUR, "bar")],
        title=name("投诉数量（件/月）", "Complaints per month"),
        fmt=fmt,
        width=CHART_WIDTH // 2,
        height=200,
        empty_text=no_data,
    )
    return [
        {
            "title": _pick(lang, "预付卡资金流（元/月）", "Prepaid card flows (yuan per month)"),
            "svg": Markup(flows),
            "wide": True,
        },
        {"title": _pick(lang, "资金存管账户余额（元）", "Escrow balance (yuan)"), "svg": Markup(escrow), "wide": False},
        {"title": _pick(lang, "投诉数量（件/月）", "Complaints per month"), "svg": Markup(complaints), "wide": False},
    ]


def _timeline(data: DossierData, lang: str) -> list[dict[str, Any]]:
    rows = []
    for e in data.timeline:
        rows.append(
            {
                "date": e.on.isoformat(),
                "kind": e.kind,
                "title": _pick(lang, e.title_zh, e.title_en),
                "detail": e.detail_en if lang == "en" else e.detail_zh,
                "note": mask_text(e.note),  # masked at collection; masked again in case data came from elsewhere
                "warn": e.warn,
            }
        )
    return rows


def _complaint_summary(events: Sequence[TimelineEvent], lang: str) -> list[dict[str, Any]]:
    """Complaints of the timeline by category: count and amount (no complainant, ever)."""
    counts: dict[str, list[float]] = {}
    for e in events:
        if e.kind != "complaint":
            continue
        label = e.title_en.removeprefix("Complaint: ") if lang == "en" else e.title_zh.removeprefix("投诉：")
        entry = counts.setdefault(label, [0, 0.0])
        entry[0] += 1
        entry[1] += e.amount or 0.0
    unit = "yuan" if lang == "en" else "元"
    return [
        {"category": label, "count": int(n), "amount": f"{amount:,.0f} {unit}"}
        for label, (n, amount) in sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]


def _history(
    history: Sequence[Any], warning: Mapping[str, Any], as_of: date, lang: str
) -> tuple[Markup, list[dict[str, Any]]]:
    """Score history up to the business date (the current run is added when missing)."""
    points: dict[date, tuple[date, float, str]] = {}
    for item in history:
        run_date, probability, tier = item[0], item[1], item[2]
        d = _as_date(run_date)
        if d <= as_of and probability is not None:
            points[d] = (d, float(probability), str(tier or ""))
    if as_of not in points and warning.get("probability") is not None:
        points[as_of] = (as_of, float(warning["probability"]), str(warning.get("tier") or ""))
    ordered = sorted(points.values())
    svg = score_history(
        ordered,
        width=CHART_WIDTH,
        title=_pick(lang, "历次运行的风险概率", "Probability over past runs")[0],
        colours={k: v[2] for k, v in TIERS.items()},
        empty_text=_pick(lang, "无历史记录", "no earlier runs")[0],
    )
    recent = [
        {
            "date": d.isoformat(),
            "probability": f"{p:.1%}",
            "tier": _pick(lang, *TIERS[t][:2])[0] if t in TIERS else (t or "—"),
            "tier_key": t if t in TIERS else "none",
        }
        for d, p, t in reversed(ordered[-6:])
    ]
    return Markup(svg), recent


def _checklist(reasons: Sequence[Mapping[str, Any]], warning: Mapping[str, Any], lang: str) -> list[dict[str, Any]]:
    codes = [str(r.get("feature") or r.get("code") or "") for r in reasons]
    codes += [str(t) for t in (warning.get("triggers") or [])]
    items = []
    for zh, en, prefixes in CHECKLIST:
        related = any(code.startswith(p) for code in codes for p in prefixes)
        items.append({"text": _pick(lang, zh, en), "related": related})
    return items


def _triggers(warning: Mapping[str, Any], reasons: Sequence[Mapping[str, Any]], lang: str) -> list[tuple[str, str]]:
    """Rule triggers with the text of the reason that carries the same code, when there is one."""
    texts = {str(r.get("code")): (str(r.get("text_zh") or ""), str(r.get("text_en") or "")) for r in reasons}
    texts |= {str(r.get("feature")): texts.get(str(r.get("code")), ("", "")) for r in reasons if r.get("feature")}
    out = []
    for trigger in warning.get("triggers") or []:
        zh, en = texts.get(str(trigger), ("", ""))
        out.append(_pick(lang, zh or feature_label(str(trigger), "zh"), en or feature_label(str(trigger), "en")))
    return out


def render_dossier(
    data: DossierData,
    *,
    warning: Mapping[str, Any],
    reasons: Sequence[Mapping[str, Any]],
    waterfall: Mapping[str, Any],
    peers: Mapping[str, Any],
    history: Sequence[Any],
    theme_title: str,
    model_version: str,
    spec_hash: str,
    lang: str = "zh",
    theme_title_en: str = "",
    peer_group: str | None = None,
) -> str:
    """The dossier page of one warned entity as a self-contained HTML string.

    Args:
        data: profile, monthly series and timeline from `collect_dossier_data` (point-in-time, PII masked).
        warning: the entity's row of the warning list (entity_id, tier, tier_zh, status, status_zh, triggers,
            probability, rank, ...).
        reasons: the entity's reasons, most important first: dicts with text_zh, text_en, contribution, code
            (and optionally feature, the feature column the reason is about).
        waterfall: {"base": float, "raw": float, "contributions": {feature: contribution}} plus optional
            "labels" ({feature: str or {"zh", "en"}}) and "top" (how many bars before "others").
        peers: {feature: {"value": x, "median": y}} (or (x, y)); rows are shown for the features the reasons name.
        history: past runs as (date, probability, tier); runs after the business date are ignored.
        theme_title: the theme's title (Chinese), e.g. "预付卡消费预警"; `theme_title_en` its English title.
        model_version, spec_hash: which model and theme declaration produced the warning.
        lang: "zh" (Chinese first, English alongside) or "en" (English first).
        peer_group: optional description of who the peers are (e.g. "同板块、同镇街企业").

    Returns:
        The HTML page; the same inputs always give the same bytes.
    """
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    if warning.get("entity_id") not in (None, data.entity_id):
        raise ValueError(f"warning row is for {warning.get('entity_id')!r}, dossier data for {data.entity_id!r}")
    history_svg, recent_runs = _history(history, warning, data.as_of, lang)
    context = {
        "lang": lang,
        "html_lang": "en" if lang == "en" else "zh-CN",
        "header": _header(data, warning, lang),
        "theme": _pick(lang, theme_title, theme_title_en or theme_title),
        "model_version": model_version,
        "spec_hash": spec_hash,
        "triggers": _triggers(warning, reasons, lang),
        "profile_rows": _profile_rows(data, lang),
        "legal_rep": _legal_rep(data, lang),
        "abnormal": _abnormal(data, lang),
        "reasons": _reasons(reasons, lang),
        "waterfall_svg": _waterfall_svg(waterfall, lang),
        "peers": _peers(peers, reasons, lang, waterfall.get("labels")),
        "peer_group": peer_group,
        "charts": _charts(data, lang),
        "months": data.months,
        "first_month": data.monthly.months[0],
        "last_month": data.monthly.months[-1],
        "last_month_partial": data.monthly.last_month_partial,
        "timeline": _timeline(data, lang),
        "complaint_summary": _complaint_summary(data.timeline, lang),
        "history_svg": history_svg,
        "recent_runs": recent_runs,
        "checklist": _checklist(reasons, warning, lang),
    }
    return html_environment().get_template(TEMPLATE).render(**context)


def write_dossiers(
    store: TableStore,
    warnings: pl.DataFrame | Sequence[Mapping[str, Any]],
    *,
    as_of: date,
    reasons: Mapping[str, Sequence[Mapping[str, Any]]],
    waterfalls: Mapping[str, Mapping[str, Any]],
    peers: Mapping[str, Mapping[str, Any]],
    histories: Mapping[str, Sequence[Any]] | None = None,
    theme_title: str,
    model_version: str,
    spec_hash: str,
    lang: str = "zh",
    theme_title_en: str = "",
    months: int = 24,
    out_dir: Path | None = None,
) -> dict[str, str]:
    """Render the dossier of every listed entity of a warning list (rows with a tier), reading the tables once.

    Args:
        store: the validated tables the run scored.
        warnings: the warning list (`build_warning_list` output) or its rows as dicts; dropped rows are skipped.
        reasons, waterfalls, peers, histories: per entity id, as `render_dossier` takes them (missing -> empty).
        out_dir: when given, each page is also written to `<out_dir>/<entity_id>.html` (atomically).

    Returns:
        {entity_id: html} in warning-list order.
    """
    rows = warnings.to_dicts() if isinstance(warnings, pl.DataFrame) else [dict(r) for r in warnings]
    listed = [r for r in rows if r.get("tier") is not None]
    ids = [str(r["entity_id"]) for r in listed]
    bad = [i for i in ids if not SAFE_ID.match(i)]
    if bad:
        raise ValueError(f"entity ids unfit for file names (letters and digits only): {bad[:5]}")
    data = collect_many(store, ids, as_of, months)
    pages: dict[str, str] = {}
    for row in listed:
        entity_id = str(row["entity_id"])
        pages[entity_id] = render_dossier(
            data[entity_id],
            warning=row,
            reasons=reasons.get(entity_id, ()),
            waterfall=waterfalls.get(entity_id) or {"base": 0.0, "raw": 0.0, "contributions": {}},
            peers=peers.get(entity_id, {}),
            history=(histories or {}).get(entity_id, ()),
            theme_title=theme_title,
            theme_title_en=theme_title_en,
            model_version=model_version,
            spec_hash=spec_hash,
            lang=lang,
        )
    if out_dir is not None:
        for entity_id, page in pages.items():
            write_text_atomic(page, out_dir / f"{entity_id}.html")
    return pages
