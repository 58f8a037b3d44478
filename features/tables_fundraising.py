"""Table contracts of the illegal-fundraising (非法集资) theme: registry changes, public opinion and filed cases.

The theme also reads the built-in `enterprises` and `complaints` tables (features.tables). Importing this module
registers the three contracts, the way a data scientist's own contracts file would.
"""

from __future__ import annotations

import polars as pl

from features.contracts import Column, TableContract, register_contract
from features.tables import USCC

REGISTRY_CHANGE_KINDS: dict[str, str] = {
    "capital_reduction": "减资",
    "shareholder_transfer": "股权转让",
    "scope_to_finance": "经营范围变更为投资理财类",
    "address_change": "住所变更",
    "legal_rep_change": "法定代表人变更",
}
OPINION_TOPICS: dict[str, str] = {
    "high_yield_promise": "高息承诺",
    "guaranteed_return": "保本保息",
    "recruitment_seminar": "推介会/讲座",
    "payout_delay": "兑付困难",
    "other": "其他",
}
OPINION_SOURCES: dict[str, str] = {
    "news": "新闻网站",
    "forum": "论坛/社区",
    "social_media": "微信/微博",
    "short_video": "短视频",
    "hotline_digest": "热线摘要",
}
CASE_KINDS: dict[str, str] = {
    "illegal_deposit_taking": "非法吸收公众存款",
    "fundraising_fraud": "集资诈骗",
    "administrative_ban": "行政取缔",
}

REGISTRY_CHANGES = register_contract(
    TableContract(
        name="registry_changes",
        title="登记事项变更记录",
        kind="event",
        description="Registered changes of an enterprise: capital, shareholders, business scope, address, legal "
        "representative.",
        keys=("change_id",),
        event_at="changed_at",
        recorded_at="recorded_at",
        columns=(
            Column("change_id", pl.String, "变更编号", "change record id"),
            USCC,
            Column("kind", pl.String, "变更事项", "what changed", allowed=tuple(REGISTRY_CHANGE_KINDS)),
            Column("changed_at", pl.Date, "变更日期", "date the change took effect"),
            Column("recorded_at", pl.Date, "登记日期", "date the change was registered"),
        ),
        owner="illegal-fundraising model team",
        tags=("fundraising",),
    )
)

PUBLIC_OPINION = register_contract(
    TableContract(
        name="public_opinion",
        title="涉企舆情",
        kind="event",
        description="Public-opinion items (舆情) about an enterprise found by monitoring, classified by topic.",
        keys=("item_id",),
        event_at="published_at",
        recorded_at="recorded_at",
        columns=(
            Column("item_id", pl.String, "舆情编号", "opinion item id"),
            USCC,
            Column("source", pl.String, "来源", "where the item was found", allowed=tuple(OPINION_SOURCES)),
            Column("topic", pl.String, "主题", "classified topic", allowed=tuple(OPINION_TOPICS)),
            Column(
                "sentiment",
                pl.Float64,
                "情感倾向",
                "sentiment score, -1 negative to 1 positive",
                minimum=-1.0,
                maximum=1.0,
            ),
            Column("published_at", pl.Date, "发布日期", "date the item was published"),
            Column("recorded_at", pl.Date, "采集日期", "date monitoring captured the item"),
        ),
        owner="illegal-fundraising model team",
        tags=("fundraising",),
    )
)

FUNDRAISING_CASES = register_contract(
    TableContract(
        name="fundraising_cases",
        title="非法集资立案/取缔结果",
        kind="event",
        description="Outcome events: illegal-fundraising cases filed against an enterprise (the ground truth for "
        "labels).",
        keys=("case_id",),
        event_at="filed_at",
        recorded_at="recorded_at",
        columns=(
            Column("case_id", pl.String, "案件编号", "case id"),
            USCC,
            Column("kind", pl.String, "案件类型", "case kind", allowed=tuple(CASE_KINDS)),
            Column("filed_at", pl.Date, "立案日期", "date the case was filed"),
            Column("recorded_at", pl.Date, "通报日期", "date the case reached the regulator"),
        ),
        owner="illegal-fundraising model team",
        tags=("fundraising",),
    )
)

FUNDRAISING_WORLD_TABLES: tuple[str, ...] = (
    "enterprises",
    "complaints",
    "registry_changes",
    "public_opinion",
    "fundraising_cases",
)
