"""Dossiers (研判档案): sections, PII masking, inert hostile names, point-in-time data, determinism."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from support import make_uscc

from features.contracts import get_contract
from features.store import TableStore
from features.tables import PREPAID_WORLD_TABLES
from risk_models.cohort import cohort_frame
from risk_models.dossier import render_dossier, write_dossiers
from risk_models.dossier_data import DossierData, collect_dossier_data, collect_many
from risk_models.pii import mask_id_number, mask_phone, mask_text
from risk_models.svg_charts import Series, Step, line_chart, nice_ticks, waterfall
from risk_models.themes.prepaid_cards import SPEC

AS_OF = date(2026, 6, 30)
FIRM = make_uscc(101)
OTHER = make_uscc(202)
ID_OLD = "330106197505051236"  # previous legal representative (valid GB 11643 check characters)
ID_NEW = "410102195801012341"  # current one: non-local, 67 at appointment
ID_LATE = "510104196003071110"  # appointed in a change recorded only after the business date
ID_IN_TEXT = "110105199001010029"
PHONE_IN_TEXT = "13800138000"
GOLDEN = Path(__file__).parent / "golden" / "dossier_zh.html"


def _frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows with exactly the table's contract schema."""
    return pl.DataFrame(rows, schema=get_contract(table).schema)


def _months(first: date, last: date) -> list[date]:
    out, d = [], first
    while d <= last:
        out.append(d)
        d = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return out


def _month_end(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1) - timedelta(days=1)


def base_tables(name: str = "杭州萧山测试健身服务有限公司") -> dict[str, pl.DataFrame]:
    """One warned fitness firm with 3.5 years of history, plus another firm whose rows must never show."""
    enterprises = [
        dict(uscc=FIRM, name=name, industry_code="8930", sector="fitness", town="城厢街道",
             grid_cell="330109-01-0007", registered_at=date(2019, 3, 1), registered_capital=500_000.0,
             status="active", deregistered_at=None, prepaid_filing=True, recorded_at=date(2025, 11, 20)),
        dict(uscc=OTHER, name="杭州萧山别家餐饮有限公司", industry_code="6210", sector="catering", town="北干街道",
             grid_cell="330109-02-0001", registered_at=date(2020, 1, 1), registered_capital=100_000.0,
             status="active", deregistered_at=None, prepaid_filing=True, recorded_at=date(2020, 1, 2)),
    ]  # fmt: skip
    reps = [
        dict(uscc=FIRM, rep_name="王建国", rep_id_number=ID_OLD, rep_age=44, rep_is_local=True,
             valid_from=date(2019, 3, 1), valid_to=date(2025, 11, 14), recorded_at=date(2019, 3, 2)),
        dict(uscc=FIRM, rep_name="李桂英", rep_id_number=ID_NEW, rep_age=67, rep_is_local=False,
             valid_from=date(2025, 11, 15), valid_to=None, recorded_at=date(2025, 11, 20)),
        dict(uscc=OTHER, rep_name="别家法人", rep_id_number="330106198001011234", rep_age=40, rep_is_local=True,
             valid_from=date(2020, 1, 1), valid_to=None, recorded_at=date(2020, 1, 2)),
    ]  # fmt: skip
    abnormal = [
        dict(uscc=FIRM, listed_at=date(2023, 1, 5), removed_at=date(2023, 3, 1), reason="annual_report_missing",
             recorded_at=date(2023, 1, 6)),
        dict(uscc=FIRM, listed_at=date(2025, 3, 10), removed_at=date(2025, 5, 20), reason="annual_report_missing",
             recorded_at=date(2025, 3, 11)),
        dict(uscc=FIRM, listed_at=date(2026, 4, 2), removed_at=None, reason="unreachable_address",
             recorded_at=date(2026, 4, 3)),
    ]  # fmt: skip
    complaints = [
        dict(complaint_id="C0000001", uscc=FIRM, channel="12315", event_at=date(2026, 6, 10),
             recorded_at=date(2026, 6, 12), category="refund_refusal", amount=3200.0,
             text=f"会员卡退费被拒，联系电话{PHONE_IN_TEXT}"),
        dict(complaint_id="C0000002", uscc=FIRM, channel="12345", event_at=date(2026, 5, 20),
             recorded_at=date(2026, 5, 21), category="closure_absconding", amount=None,
             text=f"门店关门，投诉人身份证号{ID_IN_TEXT}"),
        dict(complaint_id="C0000003", uscc=FIRM, channel="12315", event_at=date(2025, 1, 15),
             recorded_at=date(2025, 1, 16), category="service_decline", amount=500.0, text=None),
        dict(complaint_id="C0000004", uscc=FIRM, channel="12315", event_at=date(2023, 5, 1),
             recorded_at=date(2023, 5, 2), category="other", amount=100.0, text="很久以前"),
        dict(complaint_id="C0000005", uscc=OTHER, channel="12315", event_at=date(2026, 6, 1),
             recorded_at=date(2026, 6, 2), category="other", amount=1.0, text="别家的投诉"),
    ]  # fmt: skip
    txn = []
    for m in _months(date(2024, 1, 1), date(2026, 6, 1)):
        sale = 40_000.0 if m == date(2026, 4, 1) else 10_000.0  # a pre-closure sales spike in April 2026
        txn.append(dict(uscc=FIRM, txn_date=m.replace(day=5), kind="sale", amount=sale, card_count=4,
                        recorded_at=m.replace(day=6)))  # fmt: skip
        txn.append(dict(uscc=FIRM, txn_date=m.replace(day=15), kind="redemption", amount=8_000.0, card_count=30,
                        recorded_at=m.replace(day=16)))  # fmt: skip
    txn.append(dict(uscc=FIRM, txn_date=date(2026, 5, 20), kind="refund", amount=1_500.0, card_count=1,
                    recorded_at=date(2026, 5, 21)))  # fmt: skip
    txn.append(dict(uscc=FIRM, txn_date=date(2026, 5, 22), kind="recharge", amount=2_000.0, card_count=1,
                    recorded_at=date(2026, 5, 23)))  # fmt: skip
    txn.append(dict(uscc=OTHER, txn_date=date(2026, 6, 1), kind="sale", amount=123_456.0, card_count=1,
                    recorded_at=date(2026, 6, 2)))  # fmt: skip
    escrow = []
    for m in _months(date(2024, 1, 1), date(2026, 6, 1)):
        balance = {date(2026, 3, 1): 30_000.0, date(2026, 4, 1): 12_000.0, date(2026, 5, 1): 11_000.0}.get(m, 50_000.0)
        end = _month_end(m)
        # June's balance is reported on 5 July: after the business date, so it must not show.
        escrow.append(dict(uscc=FIRM, balance_date=end, balance=balance, recorded_at=end + timedelta(days=5)))
    closures = [dict(uscc=OTHER, closed_at=date(2026, 6, 3), kind="closure", recorded_at=date(2026, 6, 4))]
    return {
        "enterprises": _frame("enterprises", enterprises),
        "legal_rep_history": _frame("legal_rep_history", reps),
        "abnormal_list": _frame("abnormal_list", abnormal),
        "complaints": _frame("complaints", complaints),
        "prepaid_transactions": _frame("prepaid_transactions", txn),
        "escrow_balances": _frame("escrow_balances", escrow),
        "closures": _frame("closures", closures),
    }


def late_rows() -> dict[str, list[dict[str, Any]]]:
    """Rows about the firm that arrive after the business date (or happen after it)."""
    return {
        "enterprises": [
            dict(uscc=FIRM, name="改名后的公司", industry_code="8930", sector="fitness", town="城厢街道",
                 grid_cell="330109-01-0007", registered_at=date(2019, 3, 1), registered_capital=10.0,
                 status="deregistered", deregistered_at=date(2026, 7, 1), prepaid_filing=True,
                 recorded_at=date(2026, 7, 1)),
        ],
        "legal_rep_history": [
            dict(uscc=FIRM, rep_name="迟到者", rep_id_number=ID_LATE, rep_age=70, rep_is_local=False,
                 valid_from=date(2026, 6, 20), valid_to=None, recorded_at=date(2026, 7, 1)),
        ],
        "abnormal_list": [
            dict(uscc=FIRM, listed_at=date(2026, 6, 28), removed_at=None, reason="false_information",
                 recorded_at=date(2026, 7, 1)),
        ],
        "complaints": [
            dict(complaint_id="C0000009", uscc=FIRM, channel="12345", event_at=date(2026, 6, 25),
                 recorded_at=date(2026, 7, 1), category="contract_dispute", amount=98_765.0, text="LATEROW"),
            dict(complaint_id="C0000010", uscc=FIRM, channel="12345", event_at=date(2026, 7, 2),
                 recorded_at=date(2026, 7, 2), category="contract_dispute", amount=87_654.0, text="FUTUREROW"),
        ],
        "prepaid_transactions": [
            dict(uscc=FIRM, txn_date=date(2026, 6, 20), kind="sale", amount=999_999.0, card_count=9,
                 recorded_at=date(2026, 7, 2)),
            dict(uscc=FIRM, txn_date=date(2026, 7, 3), kind="refund", amount=777_777.0, card_count=9,
                 recorded_at=date(2026, 7, 3)),
        ],
        "escrow_balances": [
            dict(uscc=FIRM, balance_date=date(2026, 6, 15), balance=5.0, recorded_at=date(2026, 7, 1)),
        ],
        "closures": [dict(uscc=FIRM, closed_at=date(2026, 6, 29), kind="absconding", recorded_at=date(2026, 7, 2))],
    }  # fmt: skip


def store_of(tables: dict[str, pl.DataFrame]) -> TableStore:
    return TableStore.from_frames(tables)


@pytest.fixture(scope="module")
def store() -> TableStore:
    return store_of(base_tables())


@pytest.fixture(scope="module")
def data(store: TableStore) -> DossierData:
    return collect_dossier_data(store, FIRM, AS_OF)


WARNING = {
    "entity_id": FIRM,
    "tier": "red",
    "tier_zh": "红",
    "status": "new",
    "status_zh": "新增",
    "triggers": ["legal_rep__elderly_nonlocal_change", "abnormal_list__active"],
    "probability": 0.6321,
    "rank": 3,
    "entity__name": "杭州萧山测试健身服务有限公司",
}
REASONS = [
    {"code": "closure_complaints__count_90d", "contribution": 0.81, "text_zh": "近90天跑路/闭店类投诉 1 件",
     "text_en": "1 closure/absconding complaint in 90 days"},
    {"code": "escrow__coverage", "contribution": 0.55, "text_zh": "存管覆盖率 21%，低于同行",
     "text_en": "escrow coverage 21 %, below peers"},
    {"code": "legal_rep__elderly_nonlocal_change", "contribution": 0.40, "text_zh": "法定代表人近一年变更为外地老年人",
     "text_en": "legal representative changed to a non-local elderly person"},
    {"code": "profile__age_days", "contribution": -0.12, "text_zh": "成立已满 7 年",
     "text_en": "registered 7 years ago"},
]  # fmt: skip
WATERFALL = {
    "base": -3.1,
    "raw": -1.25,
    "contributions": {
        "closure_complaints__count_90d": 0.81,
        "escrow__coverage": 0.55,
        "legal_rep__elderly_nonlocal_change": 0.40,
        "profile__age_days": -0.12,
        "presale_spike__surge_30_180d": 0.18,
        "complaints__count_365d": 0.07,
        "refunds__sum_90d": 0.03,
        "escrow__balance": 0.02,
        "card_sales__sum_90d": -0.02,
        "activity_recency__days_since_last": -0.01,
        "legal_rep__age": 0.04,
    },
}
PEERS = {
    "closure_complaints__count_90d": {"value": 1, "median": 0},
    "escrow__coverage": {"value": 0.21, "median": 0.85},
    "legal_rep__elderly_nonlocal_change": {"value": 1, "median": 0},
    "profile__age_days": (2678, 1500),
    "refunds__sum_90d": {"value": 1500.0, "median": 800.0},  # not named by a reason: not shown
}
HISTORY = [
    (date(2026, 6, 23), 0.41, "orange"),
    ("2026-06-16", 0.30, "yellow"),
    (date(2026, 6, 9), 0.22, "yellow"),
    (date(2026, 7, 7), 0.987, "red"),  # a run after the business date: never shown
]


def render(data: DossierData, **overrides: Any) -> str:
    arguments: dict[str, Any] = dict(
        warning=WARNING,
        reasons=REASONS,
        waterfall=WATERFALL,
        peers=PEERS,
        history=HISTORY,
        theme_title=SPEC.title_zh,
        theme_title_en=SPEC.title_en,
        model_version="riskgen.prepaid_cards/7",
        spec_hash="0123456789abcdef",
    )
    return render_dossier(data, **(arguments | overrides))


# ---------------------------------------------------------------- sections


def test_page_contains_every_section(data: DossierData) -> None:
    page = render(data)
    for text in (
        "研判档案", "杭州萧山测试健身服务有限公司", FIRM, "红色预警", "新增", "63.2%", "业务日期", "2026-06-30",
        "预付卡消费预警", "riskgen.prepaid_cards/7", "0123456789abcdef",
        "AI 辅助预警", "AI-assisted warning", "a human decision is required before any enforcement",
        "基本信息", "8930 健身休闲活动", "城厢街道", "330109-01-0007", "2019-03-01", "500,000 元", "预付卡备案",
        "李桂英", "67 岁", "外地户籍", "经营异常名录", "通过登记的住所或者经营场所无法联系",
        "预警原因", "近90天跑路/闭店类投诉 1 件", "+0.81", "基准值", "模型得分", "其余 3 项",
        "同行对比", "同行中位数", "×0.2",
        "月度趋势", "预付卡资金流", "资金存管账户", "投诉数量",
        "事件时间线", "退费难", "跑路/闭店", "法定代表人变更", "存管余额下降 60%",
        "列入经营异常名录", "移出经营异常名录",
        "评分历史", "41.0%",
        "核查 / 约谈清单", "调取资金存管账户对账单", "清点未兑付预付卡", "现场核实经营场所", "当面核实法定代表人身份",
        "核查退费申请", "研判结论",
    ):  # fmt: skip
        assert text in page, text
    assert page.count("<svg") == 5  # waterfall, three monthly charts, score history
    assert page.count('class="box"') >= 10  # printable checkboxes
    assert "@media print" in page and "size: A4" in page
    # Peers: only features named by the reasons, in reason order.
    assert "近90天退款金额" not in page.split("同行对比")[1].split("月度趋势")[0]


def test_english_page_puts_english_first(data: DossierData) -> None:
    page = render(data, lang="en")
    assert '<html lang="en">' in page
    assert page.index("Profile") < page.index("基本信息")
    assert "Red" in page and "Why it was warned" in page and "Checklist" not in page.split("<body>")[0]
    with pytest.raises(ValueError, match="lang"):
        render(data, lang="fr")


def test_self_contained_without_scripts_or_external_resources(data: DossierData) -> None:
    page = render(data)
    assert "<script" not in page.lower()
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert page.count("http://www.w3.org/2000/svg") == page.count("<svg")  # the only URL: the SVG namespace


# ---------------------------------------------------------------- personal information


def test_id_numbers_appear_only_masked(data: DossierData) -> None:
    page = render(data)
    for raw in (ID_OLD, ID_NEW, ID_IN_TEXT, PHONE_IN_TEXT):
        assert raw not in page, raw
    assert mask_id_number(ID_NEW) == "410102********2341"
    assert "410102********2341" in page  # current representative, profile and timeline
    assert "330106********1236" in page or "王建国" in page  # the predecessor is named in the change event
    assert "138****8000" in page and "110105********0029" in page  # masked inside complaint summaries
    # The collected data never holds a raw number either, so no other renderer can leak one.
    assert ID_NEW not in repr(data) and ID_OLD not in repr(data) and PHONE_IN_TEXT not in repr(data)


def test_complaints_show_no_identity(data: DossierData) -> None:
    complaints = [e for e in data.timeline if e.kind == "complaint"]
    assert [e.key for e in complaints] == ["C0000001", "C0000002", "C0000003"]  # last 24 months, this firm only
    fields = {f.name for f in dataclasses.fields(complaints[0])}
    assert not fields & {"complainant", "phone", "name", "id_number"}
    assert "别家的投诉" not in render(data)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("110105199001010028", "110105********0028"),
        ("11010519900101002x", "110105********002X"),
        ("110105 19900101 0028", "110105********0028"),
        ("330106750505123", "330106******123"),  # 15-digit old ID
        ("12345", "***45"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_id_number(raw: str | None, masked: str) -> None:
    assert mask_id_number(raw) == masked


def test_mask_phone_and_text() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("+86 138-0013-8000") == "138****8000"
    assert mask_phone("0571-82345678") == "0571-****5678"
    assert mask_phone(None) == ""
    text = "电话13800138000或+86 139 0013 9000，身份证110105199001010028，卡号6222021234567890123，邮箱zhang@qq.com"
    masked = mask_text(text)
    for raw in ("13800138000", "13900139000", "139 0013 9000", "199001010", "6222021234567890123", "zhang@"):
        assert raw not in masked, raw
    assert "138****8000" in masked and "110105********0028" in masked
    assert mask_text("１３８００１３８０００") == "138****8000"  # full-width digits
    assert mask_text("Tel13800138000") == "Tel138****8000"
    assert mask_text("退费 1,200 元，2025-06-03 登记") == "退费 1,200 元，2025-06-03 登记"  # nothing to mask
    assert mask_text(None) == ""


# ---------------------------------------------------------------- hostile input


HOSTILE_NAME = "<script>alert(1)</script>杭州萧山恶意名称有限公司"
JS_URL = "javascript:alert(1)"


def hostile_page() -> str:
    tables = base_tables(name=HOSTILE_NAME)
    tables["complaints"] = pl.concat(
        [
            tables["complaints"],
            _frame(
                "complaints",
                [dict(complaint_id="C0000099", uscc=FIRM, channel="<b>12315</b>", event_at=date(2026, 6, 1),
                      recorded_at=date(2026, 6, 2), category="<script>alert(3)</script>", amount=1.0,
                      text=f'<img src=x onerror="alert(4)"> <a href="{JS_URL}">x</a>')],
            ),
        ]
    )  # fmt: skip
    data = collect_dossier_data(store_of(tables), FIRM, AS_OF)
    reasons = [
        {"code": '"><script>alert(5)</script>', "contribution": 0.5, "text_zh": JS_URL,
         "text_en": '<a href="javascript:alert(6)">click</a>'},
        *REASONS,
    ]  # fmt: skip
    waterfall = WATERFALL | {"labels": {"escrow__coverage": "<script>alert(7)</script>"}}
    peers = PEERS | {'"><script>alert(5)</script>': {"value": "<svg onload=alert(8)>", "median": JS_URL}}
    return render(
        data,
        warning=WARNING | {"tier_zh": "<script>", "triggers": ["<script>alert(9)</script>"]},
        reasons=reasons,
        waterfall=waterfall,
        peers=peers,
        history=[(date(2026, 6, 23), 0.41, "<script>alert(10)</script>")],
        theme_title="<style>body{display:none}</style>预付卡",
        model_version='"><script>alert(11)</script>',
        spec_hash="</title><script>alert(12)</script>",
    )


def test_hostile_names_render_as_text() -> None:
    page = hostile_page()
    assert "<script" not in page.lower()
    assert "<img" not in page.lower() and "<a " not in page.lower() and "<svg onload" not in page.lower()
    assert not re.search(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", page, re.IGNORECASE)
    assert page.lower().count("<style") == 1  # ours only
    assert "&lt;script&gt;alert(1)&lt;/script&gt;杭州萧山恶意名称有限公司" in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page  # unknown complaint category, escaped
    assert "&lt;script&gt;alert(7)&lt;/script&gt;" in page  # inside the waterfall SVG
    assert JS_URL in page  # shown, but as text only


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless Chromium not installed")
def test_hostile_names_inert_in_a_real_browser(tmp_path: Path) -> None:
    path = tmp_path / "hostile.html"
    path.write_text(hostile_page(), encoding="utf-8")
    result = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=45,
        check=True,
    )
    dom = result.stdout
    assert "<h1>" in dom and "恶意名称" in dom
    assert "<script" not in dom.lower() and "<img" not in dom.lower() and "<a " not in dom.lower()
    assert "alert(" in dom  # the text is there, as text


# ---------------------------------------------------------------- point in time


def test_rows_recorded_after_the_business_date_never_show(data: DossierData) -> None:
    tables = base_tables()
    for name, rows in late_rows().items():
        tables[name] = pl.concat([tables[name], _frame(name, rows)])
    late = collect_dossier_data(store_of(tables), FIRM, AS_OF)
    assert late == data
    page = render(late)
    assert page == render(data)
    for text in ("迟到者", "改名后的公司", "LATEROW", "FUTUREROW", "999,999", "98,765", "虚假", "结果事件"):
        assert text not in page, text


def test_monthly_series_values(data: DossierData) -> None:
    m = data.monthly
    assert m.months[0] == "2024-07" and m.months[-1] == "2026-06" and len(m.months) == 24
    assert m.sales_recharges[-3:] == (40_000.0, 12_000.0, 10_000.0)  # April spike, May sale + recharge, June
    assert m.redemptions[-1] == 8_000.0 and m.refunds[-2] == 1_500.0 and sum(m.refunds) == 1_500.0
    assert m.escrow_balance[-4:] == (30_000.0, 12_000.0, 11_000.0, None)  # June is reported after the date
    assert m.complaints[-2:] == (1, 1) and sum(m.complaints) == 3
    assert not m.last_month_partial
    mid = collect_dossier_data(store_of(base_tables()), FIRM, date(2026, 6, 10))
    assert mid.monthly.last_month_partial and mid.monthly.sales_recharges[-1] == 10_000.0
    assert mid.monthly.redemptions[-1] == 0.0  # redeemed on 15 June, after this business date


def test_timeline_is_reverse_chronological_and_complete(data: DossierData) -> None:
    events = [(e.on.isoformat(), e.kind) for e in data.timeline]
    assert events == [
        ("2026-06-10", "complaint"),
        ("2026-05-20", "complaint"),
        ("2026-04-30", "escrow_drop"),
        ("2026-04-02", "abnormal_listed"),
        ("2026-03-31", "escrow_drop"),
        ("2025-11-15", "legal_rep"),
        ("2025-05-20", "abnormal_removed"),
        ("2025-03-10", "abnormal_listed"),
        ("2025-01-15", "complaint"),
    ]
    change = next(e for e in data.timeline if e.kind == "legal_rep")
    assert change.warn and "王建国" in change.detail_zh and "李桂英" in change.detail_zh and "外地" in change.detail_zh
    drop = next(e for e in data.timeline if e.on == date(2026, 4, 30))
    assert drop.title_zh == "存管余额下降 60%" and drop.warn
    rep = data.profile.legal_rep
    assert rep is not None and (rep.name, rep.age, rep.is_local) == ("李桂英", 67, False)
    assert [a.removed_at for a in data.profile.abnormal_listings] == [date(2023, 3, 1), date(2025, 5, 20), None]


def test_unknown_entity_is_a_clear_error(store: TableStore) -> None:
    with pytest.raises(LookupError, match="not in the registry"):
        collect_dossier_data(store, make_uscc(999), AS_OF)
    with pytest.raises(LookupError, match="not in the registry"):
        collect_dossier_data(store, FIRM, date(2025, 11, 19))  # registry record written the day after


def test_score_history_ignores_later_runs(data: DossierData) -> None:
    page = render(data)
    assert "98.7%" not in page and "2026-07-07" not in page
    assert "2026-06-16" in page and "63.2%" in page  # the current run is added to the history


# ---------------------------------------------------------------- determinism, batch, golden


def test_same_inputs_give_the_same_bytes(store: TableStore, data: DossierData) -> None:
    first = render(data)
    assert render(collect_dossier_data(store, FIRM, AS_OF)) == first
    shuffled = {name: frame.sample(fraction=1.0, shuffle=True, seed=3) for name, frame in base_tables().items()}
    assert render(collect_dossier_data(store_of(shuffled), FIRM, AS_OF)) == first


def test_write_dossiers_renders_listed_entities(store: TableStore, data: DossierData, tmp_path: Path) -> None:
    warnings = pl.DataFrame(
        [WARNING, WARNING | {"entity_id": OTHER, "tier": None, "status": "dropped"}],
        schema_overrides={"triggers": pl.List(pl.String)},
    )
    pages = write_dossiers(
        store, warnings, as_of=AS_OF, reasons={FIRM: REASONS}, waterfalls={FIRM: WATERFALL}, peers={FIRM: PEERS},
        histories={FIRM: HISTORY}, theme_title=SPEC.title_zh, theme_title_en=SPEC.title_en,
        model_version="riskgen.prepaid_cards/7", spec_hash="0123456789abcdef", out_dir=tmp_path,
    )  # fmt: skip
    assert list(pages) == [FIRM]  # the dropped entity has no dossier
    assert pages[FIRM] == render(data)
    assert (tmp_path / f"{FIRM}.html").read_text(encoding="utf-8") == pages[FIRM]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{FIRM}.html"]  # no temp files left behind
    with pytest.raises(ValueError, match="file names"):
        write_dossiers(
            store, [WARNING | {"entity_id": "../../etc/passwd"}], as_of=AS_OF, reasons={}, waterfalls={}, peers={},
            theme_title="t", model_version="v", spec_hash="h", out_dir=tmp_path,
        )  # fmt: skip


def test_golden_page(data: DossierData) -> None:
    """The rendered page is compared with a reviewed copy; regenerate with RISKGEN_UPDATE_GOLDEN=1 after a change."""
    page = render(data)
    if os.environ.get("RISKGEN_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(page, encoding="utf-8")
    assert GOLDEN.exists(), f"missing {GOLDEN}; run with RISKGEN_UPDATE_GOLDEN=1 and review the file"
    assert page == GOLDEN.read_text(encoding="utf-8"), "dossier changed; review, then RISKGEN_UPDATE_GOLDEN=1"


# ---------------------------------------------------------------- charts


def test_svg_charts_escape_and_are_deterministic() -> None:
    labels = ["2026-01", "2026-02", "2026-03"]
    svg = line_chart(labels, [Series("<script>x</script>", [1.0, None, 3.0], '"><script>')], title="<t>")
    assert "<script" not in svg and "&lt;script&gt;" in svg and "&lt;t&gt;" in svg
    assert svg == line_chart(labels, [Series("<script>x</script>", [1.0, None, 3.0], '"><script>')], title="<t>")
    empty = line_chart(labels, [Series("a", [None, None, None], "#000")], title="t", empty_text="无数据")
    assert "无数据" in empty
    fall = waterfall(-2.0, [Step("<b>特征</b>", 0.5)], -1.5, title="w", base_label="基准", total_label="得分")
    assert "<b>" not in fall and "&lt;b&gt;特征&lt;/b&gt;" in fall
    ticks = nice_ticks(0.0, 37_123.0)
    assert ticks[0] == 0.0 and ticks[-1] >= 37_123.0 and len(ticks) <= 7


# ---------------------------------------------------------------- a generated world


def test_every_cohort_firm_of_a_generated_world_renders_without_raw_ids(tmp_path: Path) -> None:
    from features.synthetic import generate_world

    generate_world(tmp_path / "w", n_enterprises=400, seed=11, dirty_rate=0.0, progress=False)
    world = TableStore.from_folder(tmp_path / "w", list(PREPAID_WORLD_TABLES))
    as_of = date(2026, 3, 31)
    ids = cohort_frame(SPEC.cohort, world, "enterprises", [as_of])["entity_id"].to_list()
    assert len(ids) > 50
    warnings = [dict(WARNING, entity_id=e, rank=i + 1) for i, e in enumerate(ids)]
    pages = write_dossiers(
        world, warnings, as_of=as_of, reasons={}, waterfalls={}, peers={}, theme_title=SPEC.title_zh,
        model_version="v", spec_hash="h",
    )  # fmt: skip
    assert set(pages) == set(ids)
    raw_ids = set(world.frame("legal_rep_history").select("rep_id_number").collect().to_series().to_list())
    everything = "\n".join(pages.values())
    assert not [raw for raw in raw_ids if raw in everything]
    assert "<script" not in everything.lower()
    many = collect_many(world, ids[:5], as_of)
    assert all(many[e] == collect_dossier_data(world, e, as_of) for e in ids[:5])
