"""Prepaid-card domain blocks and the prepaid feature set, built on the generic blocks.

The signals follow DOMAIN.md: escrow coverage, prepaid liability, pre-closure sales spikes, redemption collapse,
refunds, refund-refusal and closure complaints, legal-representative change to a non-local elderly person, the
abnormal operation list, and the firm's profile against its peers.
"""

from __future__ import annotations

import polars as pl

from features.asof import KEYS, AsOf, outer_join
from features.blocks.base import FeatureBlock, FeatureColumn, feature_block
from features.blocks.generic import (
    category_shares,
    cents,
    interval_state,
    monthly_trend,
    peer_relative,
    recency,
    safe_ratio,
    static_attributes,
    window_stats,
    window_surge,
    yuan,
)
from features.reference import COMPLAINT_CATEGORIES
from features.windows import Window

OWNER = "prepaid-card model team"
TXN = "prepaid_transactions"
INFLOW = ("sale", "recharge")
OUTFLOW = ("redemption", "refund")
ESCROW_SHARE = 0.2  # Shaoxing: warn when the account balance is below 20 % of the money recharged
MATERIAL_INTAKE_YUAN = 100_000
ELDERLY_AGE = 60
FOREVER_DAYS = 36_500

profile = static_attributes(
    "profile",
    "enterprises",
    age_from="registered_at",
    owner=OWNER,
    numbers={"registered_capital": ("注册资本", "registered capital")},
    categories={
        "sector": ("行业板块", "sector"),
        "town": ("所属镇街", "town/street"),
        "industry_code": ("行业代码", "industry code"),
    },
)
complaints = window_stats(
    "complaints", "complaints", (30, 90, 365), value="amount", owner=OWNER, label_zh="投诉", label_en="complaints"
)
refund_complaints = window_stats(
    "refund_complaints",
    "complaints",
    (30, 90, 180),
    filter_column="category",
    filter_values=("refund_refusal",),
    owner=OWNER,
    label_zh="退费类投诉",
    label_en="refund-refusal complaints",
)
closure_complaints = window_stats(
    "closure_complaints",
    "complaints",
    (30, 90),
    filter_column="category",
    filter_values=("closure_absconding",),
    owner=OWNER,
    label_zh="跑路/闭店类投诉",
    label_en="closure/absconding complaints",
)
complaint_surge = window_surge(
    "complaint_surge", "complaints", 30, 180, owner=OWNER, label_zh="投诉", label_en="complaints"
)
complaint_trend = monthly_trend(
    "complaint_trend", "complaints", 6, owner=OWNER, label_zh="投诉量", label_en="complaints"
)
complaint_recency = recency("complaint_recency", "complaints", owner=OWNER, label_zh="投诉", label_en="complaint")
complaint_mix = category_shares(
    "complaint_mix",
    "complaints",
    "category",
    COMPLAINT_CATEGORIES,
    180,
    owner=OWNER,
    label_zh="投诉",
    label_en="complaints",
)
card_sales = window_stats(
    "card_sales",
    TXN,
    (30, 90, 180),
    value="amount",
    filter_column="kind",
    filter_values=INFLOW,
    owner=OWNER,
    label_zh="售卡充值",
    label_en="card sales and recharges",
)
redemptions = window_stats(
    "redemptions",
    TXN,
    (30, 90, 180),
    value="amount",
    filter_column="kind",
    filter_values=("redemption",),
    owner=OWNER,
    label_zh="消费核销",
    label_en="redemptions",
)
refunds = window_stats(
    "refunds",
    TXN,
    (90,),
    value="amount",
    filter_column="kind",
    filter_values=("refund",),
    owner=OWNER,
    label_zh="退款",
    label_en="refunds",
)
sales_trend = monthly_trend(
    "sales_trend",
    TXN,
    6,
    value="amount",
    filter_column="kind",
    filter_values=INFLOW,
    owner=OWNER,
    label_zh="售卡充值额",
    label_en="card sales",
)
presale_spike = window_surge(
    "presale_spike",
    TXN,
    30,
    180,
    value="amount",
    filter_column="kind",
    filter_values=INFLOW,
    owner=OWNER,
    label_zh="售卡充值额",
    label_en="card sales",
)
redemption_trend = window_surge(
    "redemption_trend",
    TXN,
    30,
    90,
    value="amount",
    filter_column="kind",
    filter_values=("redemption",),
    owner=OWNER,
    label_zh="消费核销额",
    label_en="redemptions",
)
activity_recency = recency("activity_recency", TXN, owner=OWNER, label_zh="预付卡交易", label_en="prepaid transaction")
abnormal_list = interval_state(
    "abnormal_list",
    "abnormal_list",
    owner=OWNER,
    label_zh="列入经营异常名录",
    label_en="on the abnormal operation list",
)
unreachable = interval_state(
    "unreachable",
    "abnormal_list",
    owner=OWNER,
    filter_column="reason",
    filter_values=("unreachable_address",),
    label_zh="因无法联系列入异常名录",
    label_en="listed as unreachable at the registered address",
)
complaints_peer = peer_relative("complaints_peer", complaints, "count_365d", profile, owner=OWNER)
sales_peer = peer_relative("sales_peer", card_sales, "sum_90d", profile, owner=OWNER)


def _signed_cents() -> pl.Expr:
    """Money taken in (sales, recharges) minus money paid out (redemptions, refunds), in cents."""
    return pl.when(pl.col("kind").is_in(INFLOW)).then(cents("amount")).otherwise(-cents("amount"))


@feature_block(
    name="liability",
    owner=OWNER,
    description="Net prepaid intake (money taken in less money redeemed or refunded), its growth and the share of "
    "intake refunded.",
    tables=(TXN,),
    columns=(
        # Net intake since the feed began: the platform reports flows, not the balance carried in from before.
        FeatureColumn(
            "outstanding", "观测期内预收净额", "net prepaid intake since the feed began", "amount", 0.0, None, True
        ),
        FeatureColumn("growth_90d", "近90天预付余额增长率", "liability growth over 90 days", "ratio", None, 90, True),
        FeatureColumn(
            "refund_ratio_90d",
            "近90天退款占售卡充值比例",
            "refunds / sales and recharges, 90 days",
            "ratio",
            None,
            90,
            True,
        ),
    ),
)
def liability(view: AsOf) -> pl.DataFrame:
    windows = {"_now": Window(FOREVER_DAYS), "_before": Window(FOREVER_DAYS, 90), "_90d": Window(90)}
    metrics = {
        "liability": _signed_cents(),
        "inflow": pl.when(pl.col("kind").is_in(INFLOW)).then(cents("amount")).otherwise(0),
        "refund": pl.when(pl.col("kind") == "refund").then(cents("amount")).otherwise(0),
    }
    sums = view.window_sums(TXN, windows, metrics)
    change = (pl.col("liability_now") - pl.col("liability_before")).cast(pl.Float64)
    return sums.select(
        *KEYS,
        yuan(pl.col("liability_now")).alias("outstanding"),
        safe_ratio(change, pl.col("liability_before")).alias("growth_90d"),
        safe_ratio(pl.col("refund_90d").cast(pl.Float64), pl.col("inflow_90d")).alias("refund_ratio_90d"),
    )


@feature_block(
    name="escrow",
    owner=OWNER,
    description="Escrow coverage: the supervised-account balance against the money taken in by card sales and "
    "recharges over the last year (Shaoxing's line: a balance below 20 % of the money recharged).",
    tables=(TXN, "escrow_balances"),
    columns=(
        FeatureColumn("balance", "存管账户余额", "escrow balance", "amount", None, None, False),
        FeatureColumn(
            "coverage",
            "存管余额占近一年售卡充值额比例",
            "escrow balance / card sales and recharges, 365 days",
            "ratio",
            None,
            365,
            False,
        ),
        FeatureColumn(
            "below_line",
            "存管余额低于近一年充值额的20%",
            "escrow balance below 20 % of a year's recharges",
            "flag",
            0,
            365,
            True,
        ),
        FeatureColumn(
            "balance_vs_prior",
            "存管余额较3-6个月前之比",
            "escrow balance vs 90-180 days before",
            "ratio",
            None,
            180,
            False,
        ),
    ),
)
def escrow(view: AsOf) -> pl.DataFrame:
    intake = view.window_sums(TXN, Window(365), {"intake": cents("amount")}, pl.col("kind").is_in(INFLOW))
    intake = intake.select(*KEYS, yuan(pl.col("intake")).alias("intake"))
    balance = view.latest("escrow_balances", ["balance"])
    prior = view.window_sums("escrow_balances", Window(180, 90), {"c": cents("balance"), "n": pl.lit(1, pl.Int64)})
    prior = prior.select(*KEYS, safe_ratio(yuan(pl.col("c")), pl.col("n")).alias("prior"))
    joined = outer_join([intake, balance, prior])
    coverage = pl.when(pl.col("intake") > 0).then(pl.col("balance").fill_null(0) / pl.col("intake"))
    # A firm with little intake cannot cross a line that matters: the rule applies from a material intake on.
    material = pl.col("intake").fill_null(0) >= MATERIAL_INTAKE_YUAN
    return joined.with_columns(
        coverage.alias("coverage"),
        ((coverage < ESCROW_SHARE) & material).fill_null(False).cast(pl.Int8).alias("below_line"),
        safe_ratio(pl.col("balance"), pl.col("prior")).alias("balance_vs_prior"),
    )


@feature_block(
    name="legal_rep",
    owner=OWNER,
    description="The legal representative in office at the as-of date; flags a change to a non-local elderly person "
    "(the 'professional closer' signal).",
    tables=("legal_rep_history",),
    columns=(
        FeatureColumn("age", "法定代表人年龄", "legal representative's age", "number", None, None, None),
        FeatureColumn("is_local", "法定代表人为本地户籍", "legal representative is local", "flag", None),
        FeatureColumn(
            "days_since_change",
            "距法定代表人变更天数",
            "days since the representative took office",
            "days",
            None,
            None,
            False,
        ),
        FeatureColumn(
            "changes_365d", "近365天法定代表人变更次数", "representative changes in 365 days", "count", 0, 365, True
        ),
        FeatureColumn(
            "elderly_nonlocal_change",
            "近一年法定代表人变更为外地老年人",
            "changed within a year to a non-local person aged 60+",
            "flag",
            0,
            365,
            True,
        ),
    ),
)
def legal_rep(view: AsOf) -> pl.DataFrame:
    current = view.latest("legal_rep_history", ["rep_age", "rep_is_local", "valid_from"])
    windows = {"terms": Window(FOREVER_DAYS), "changes_365d": Window(365)}
    counts = view.window_sums("legal_rep_history", windows, {"": pl.lit(1, pl.Int64)})
    joined = outer_join([current, counts]).with_columns(pl.col("terms", "changes_365d").fill_null(0))
    days = view.days_since("valid_from")
    age = pl.col("rep_age") + (days * 4) // 1461  # whole years of 365.25 days, in integers
    # The first representative is the founder, not a change: a change needs an earlier term.
    changed = (pl.col("terms") > 1) & (days <= 365)
    flag = changed & (age >= ELDERLY_AGE) & ~pl.col("rep_is_local")
    # When every term began within the year, the first of them is the founding, not a change.
    founding_in_window = (pl.col("terms") == pl.col("changes_365d")).cast(pl.Int64)
    return joined.select(
        *KEYS,
        age.alias("age"),
        pl.col("rep_is_local").cast(pl.Int8).alias("is_local"),
        days.alias("days_since_change"),
        (pl.col("changes_365d") - founding_in_window).clip(0).alias("changes_365d"),
        flag.fill_null(False).cast(pl.Int8).alias("elderly_nonlocal_change"),
    )


PREPAID_FEATURE_SET: tuple[FeatureBlock, ...] = (
    profile,
    complaints,
    refund_complaints,
    closure_complaints,
    complaint_surge,
    complaint_trend,
    complaint_recency,
    complaint_mix,
    card_sales,
    redemptions,
    refunds,
    sales_trend,
    presale_spike,
    redemption_trend,
    activity_recency,
    escrow,
    liability,
    legal_rep,
    abnormal_list,
    unreachable,
    complaints_peer,
    sales_peer,
)
