"""Built-in table contracts for the enterprise registry, complaints, prepaid/escrow feeds and outcomes."""

from __future__ import annotations

import polars as pl

from features.contracts import Column, RowRule, TableContract, register_contract
from features.reference import (
    ABNORMAL_REASONS,
    CLOSURE_KINDS,
    COMPLAINT_CATEGORIES,
    COMPLAINT_CHANNELS,
    ENTERPRISE_STATUSES,
    INDUSTRIES,
    SECTORS,
    TOWNS,
    TRANSACTION_KINDS,
)

MAX_AMOUNT_YUAN = 50_000_000.0  # a single prepaid record above this is a unit or keying error

USCC = Column("uscc", pl.String, "统一社会信用代码", "unified social credit code (GB 32100-2015)", uscc=True)


def _recorded_date(description: str = "date the record reached the regulator") -> Column:
    return Column("recorded_at", pl.Date, "入库日期", description)


def _ends_before_start(start: str, end: str) -> RowRule:
    return RowRule(
        code=f"{end}_before_{start}",
        description=f"{end} lies before {start}",
        violated=lambda: pl.col(end) < pl.col(start),
    )


ENTERPRISES = register_contract(
    TableContract(
        name="enterprises",
        title="市场主体登记信息",
        kind="entity",
        description="Registry snapshot: one row per enterprise with registration facts.",
        keys=("uscc",),
        event_at="registered_at",
        recorded_at="recorded_at",
        columns=(
            USCC,
            Column("name", pl.String, "企业名称", "registered name", free_text=True),
            Column("industry_code", pl.String, "行业代码", "GB/T 4754-2017 class", allowed=tuple(INDUSTRIES)),
            Column("sector", pl.String, "行业板块", "riskgen sector grouping of the industry", allowed=SECTORS),
            Column("town", pl.String, "所属镇街", "town or street (镇街)", allowed=TOWNS),
            Column("grid_cell", pl.String, "网格", "grid cell (网格) id"),
            Column("registered_at", pl.Date, "成立日期", "registration date"),
            Column(
                "registered_capital",
                pl.Float64,
                "注册资本(元)",
                "registered capital in yuan",
                minimum=0.0,
                maximum=1e11,
            ),
            Column("status", pl.String, "登记状态", "registry status", allowed=ENTERPRISE_STATUSES),
            Column(
                "deregistered_at",
                pl.Date,
                "注销/吊销日期",
                "deregistration or revocation date",
                required=False,
            ),
            Column("prepaid_filing", pl.Boolean, "预付卡备案", "filed as a prepaid-card issuer"),
            _recorded_date("date the registry record was last written"),
        ),
        rules=(_ends_before_start("registered_at", "deregistered_at"),),
    )
)

LEGAL_REP_HISTORY = register_contract(
    TableContract(
        name="legal_rep_history",
        title="法定代表人变更记录",
        kind="interval",
        description="Who was legal representative of an enterprise from when to when.",
        keys=("uscc", "valid_from"),
        event_at="valid_from",
        recorded_at="recorded_at",
        valid_from="valid_from",
        valid_to="valid_to",
        columns=(
            USCC,
            Column(
                "rep_name",
                pl.String,
                "法定代表人姓名",
                "legal representative's name (public registry data)",
                free_text=True,
            ),
            Column("rep_id_number", pl.String, "身份证号", "resident ID number (sensitive, masked)", pii=True),
            Column("rep_age", pl.Int64, "任职时年龄", "age when the term began", minimum=16, maximum=100),
            Column("rep_is_local", pl.Boolean, "是否本地户籍", "household registration in Hangzhou"),
            Column("valid_from", pl.Date, "任职起始日", "first day as legal representative"),
            Column("valid_to", pl.Date, "任职终止日", "day the term ended (null while in office)", required=False),
            _recorded_date("date the change was registered"),
        ),
        rules=(_ends_before_start("valid_from", "valid_to"),),
    )
)

ABNORMAL_LIST = register_contract(
    TableContract(
        name="abnormal_list",
        title="经营异常名录",
        kind="interval",
        description="Abnormal operation list membership: listed and removed dates.",
        keys=("uscc", "listed_at"),
        event_at="listed_at",
        recorded_at="recorded_at",
        valid_from="listed_at",
        valid_to="removed_at",
        columns=(
            USCC,
            Column("listed_at", pl.Date, "列入日期", "date listed"),
            Column("removed_at", pl.Date, "移出日期", "date removed (null while listed)", required=False),
            Column("reason", pl.String, "列入原因", "listing reason", allowed=tuple(ABNORMAL_REASONS)),
            _recorded_date(),
        ),
        rules=(_ends_before_start("listed_at", "removed_at"),),
    )
)

COMPLAINTS = register_contract(
    TableContract(
        name="complaints",
        title="投诉举报(12315/12345)",
        kind="event",
        description="Consumer complaints; never carries the complainant's identity.",
        keys=("complaint_id",),
        event_at="event_at",
        recorded_at="recorded_at",
        columns=(
            Column("complaint_id", pl.String, "投诉编号", "complaint id"),
            USCC,
            Column("channel", pl.String, "渠道", "hotline", allowed=COMPLAINT_CHANNELS),
            Column("event_at", pl.Date, "发生日期", "date of the incident"),
            Column("recorded_at", pl.Date, "登记日期", "date the complaint was registered"),
            Column("category", pl.String, "投诉类别", "complaint category", allowed=tuple(COMPLAINT_CATEGORIES)),
            Column(
                "amount",
                pl.Float64,
                "涉及金额(元)",
                "amount in dispute",
                required=False,
                minimum=0.0,
                maximum=MAX_AMOUNT_YUAN,
            ),
            Column(
                "text",
                pl.String,
                "投诉摘要",
                "short summary without complainant identity",
                required=False,
                free_text=True,
            ),
        ),
    )
)

PREPAID_TRANSACTIONS = register_contract(
    TableContract(
        name="prepaid_transactions",
        title="预付卡交易(日汇总)",
        kind="event",
        description="Daily totals of prepaid card sales, recharges, redemptions and refunds per enterprise.",
        keys=("uscc", "txn_date", "kind"),
        event_at="txn_date",
        recorded_at="recorded_at",
        columns=(
            USCC,
            Column("txn_date", pl.Date, "交易日期", "business day of the transactions"),
            Column(
                "kind",
                pl.String,
                "交易类型",
                "sale, recharge, redemption or refund",
                allowed=tuple(TRANSACTION_KINDS),
            ),
            Column(
                "amount",
                pl.Float64,
                "金额(元)",
                "total amount of the day",
                minimum=0.0,
                maximum=MAX_AMOUNT_YUAN,
            ),
            Column(
                "card_count",
                pl.Int64,
                "卡数/笔数",
                "cards or operations that day",
                minimum=0,
                maximum=100_000,
            ),
            _recorded_date("date the escrow platform reported the day"),
        ),
    )
)

ESCROW_BALANCES = register_contract(
    TableContract(
        name="escrow_balances",
        title="资金存管账户余额",
        kind="snapshot",
        description="Month-end balance of the supervised (escrow) account.",
        keys=("uscc", "balance_date"),
        event_at="balance_date",
        recorded_at="recorded_at",
        columns=(
            USCC,
            Column("balance_date", pl.Date, "余额日期", "date of the balance"),
            Column("balance", pl.Float64, "存管余额(元)", "escrow balance", minimum=0.0, maximum=1e10),
            _recorded_date("date the bank reported the balance"),
        ),
    )
)

CLOSURES = register_contract(
    TableContract(
        name="closures",
        title="闭店/跑路结果",
        kind="event",
        description="Outcome events: closure, absconding or deregistration (the ground truth for labels).",
        keys=("uscc", "closed_at"),
        event_at="closed_at",
        recorded_at="recorded_at",
        columns=(
            USCC,
            Column("closed_at", pl.Date, "闭店日期", "date the business closed"),
            Column("kind", pl.String, "类型", "closure kind", allowed=tuple(CLOSURE_KINDS)),
            _recorded_date("date the closure was confirmed"),
        ),
    )
)

PREPAID_WORLD_TABLES: tuple[str, ...] = (
    "enterprises",
    "legal_rep_history",
    "abnormal_list",
    "complaints",
    "prepaid_transactions",
    "escrow_balances",
    "closures",
)
