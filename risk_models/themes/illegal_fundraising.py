"""非法集资风险预警 — illegal-fundraising warning: which enterprises are heading for an illegal-fundraising case.

Built only from generic blocks over the theme's own tables (registry changes, public opinion, complaints), declared
in `features.tables_fundraising`; importing this file registers those contracts.
"""

from __future__ import annotations

from features.blocks.generic import category_shares, recency, static_attributes, window_stats, window_surge
from features.tables_fundraising import FUNDRAISING_WORLD_TABLES, OPINION_TOPICS
from risk_models.spec import (
    Cohort,
    Entity,
    EventLabel,
    ModelParams,
    RuleTrigger,
    ThematicModelSpec,
    Tier,
    WarningPolicy,
)

OWNER = "illegal-fundraising model team"
PROMISES = ("high_yield_promise", "guaranteed_return")
FUND_COMPLAINTS = ("refund_refusal", "false_advertising", "contract_dispute")

profile = static_attributes(
    "ifr_profile",
    "enterprises",
    age_from="registered_at",
    owner=OWNER,
    numbers={"registered_capital": ("注册资本", "registered capital")},
    categories={"sector": ("行业板块", "sector"), "town": ("所属镇街", "town/street")},
)
finance_scope = window_stats(
    "ifr_finance_scope",
    "registry_changes",
    (180, 365),
    filter_column="kind",
    filter_values=("scope_to_finance",),
    owner=OWNER,
    label_zh="经营范围变更为投资理财类",
    label_en="business-scope changes to investment wording",
)
finance_scope_recency = recency(
    "ifr_finance_scope_recency",
    "registry_changes",
    filter_column="kind",
    filter_values=("scope_to_finance",),
    owner=OWNER,
    label_zh="经营范围变更为投资理财类",
    label_en="business-scope change to investment wording",
)
capital_changes = window_stats(
    "ifr_capital_changes",
    "registry_changes",
    (90, 180),
    filter_column="kind",
    filter_values=("capital_reduction", "shareholder_transfer"),
    owner=OWNER,
    label_zh="减资/股权转让",
    label_en="capital reductions and shareholder transfers",
)
control_changes = window_stats(
    "ifr_control_changes",
    "registry_changes",
    (90, 180),
    filter_column="kind",
    filter_values=("legal_rep_change", "address_change"),
    owner=OWNER,
    label_zh="法定代表人/住所变更",
    label_en="legal-representative and address changes",
)
promises = window_stats(
    "ifr_promises",
    "public_opinion",
    (90, 180),
    filter_column="topic",
    filter_values=PROMISES,
    owner=OWNER,
    label_zh="高息承诺/保本保息舆情",
    label_en="high-yield or guaranteed-return opinion items",
)
promise_recency = recency(
    "ifr_promise_recency",
    "public_opinion",
    filter_column="topic",
    filter_values=PROMISES,
    owner=OWNER,
    label_zh="高息承诺/保本保息舆情",
    label_en="high-yield or guaranteed-return opinion item",
)
seminars = window_stats(
    "ifr_seminars",
    "public_opinion",
    (90, 180),
    filter_column="topic",
    filter_values=("recruitment_seminar",),
    owner=OWNER,
    label_zh="推介会/讲座舆情",
    label_en="recruitment-seminar opinion items",
)
payout_delays = window_stats(
    "ifr_payout_delays",
    "public_opinion",
    (30, 90, 180),
    filter_column="topic",
    filter_values=("payout_delay",),
    owner=OWNER,
    label_zh="兑付困难舆情",
    label_en="payout-delay opinion items",
)
opinion = window_stats(
    "ifr_opinion",
    "public_opinion",
    (90, 180),
    value="sentiment",
    owner=OWNER,
    label_zh="舆情",
    label_en="opinion items",
)
opinion_mix = category_shares(
    "ifr_opinion_mix",
    "public_opinion",
    "topic",
    {k: v for k, v in OPINION_TOPICS.items() if k != "other"},
    180,
    owner=OWNER,
    label_zh="舆情",
    label_en="opinion items",
)
complaints = window_stats(
    "ifr_complaints", "complaints", (30, 90, 180), value="amount", owner=OWNER, label_zh="投诉", label_en="complaints"
)
fund_complaints = window_stats(
    "ifr_fund_complaints",
    "complaints",
    (90, 180),
    value="amount",
    filter_column="category",
    filter_values=FUND_COMPLAINTS,
    owner=OWNER,
    label_zh="退款/虚假宣传/合同类投诉",
    label_en="refund, false-advertising and contract complaints",
)
complaint_surge = window_surge(
    "ifr_complaint_surge", "complaints", 60, 120, owner=OWNER, label_zh="投诉", label_en="complaints"
)

IFR_FEATURE_SET = (
    profile,
    finance_scope,
    finance_scope_recency,
    capital_changes,
    control_changes,
    promises,
    promise_recency,
    seminars,
    payout_delays,
    opinion,
    opinion_mix,
    complaints,
    fund_complaints,
    complaint_surge,
)

SPEC = ThematicModelSpec(
    name="illegal_fundraising",
    title_zh="非法集资风险预警",
    title_en="Illegal-fundraising warning",
    owner=OWNER,
    purpose="Rank active enterprises by the risk of an illegal-fundraising case (非法吸收公众存款, 集资诈骗 or an "
    "administrative ban) within 365 days, so that staff research the firms promising high or guaranteed returns "
    "before investors lose their money.",
    entity=Entity(table="enterprises", label_zh="企业", label_en="enterprise"),
    tables=FUNDRAISING_WORLD_TABLES,
    cohort=Cohort(min_age_days=30, ended_by="fundraising_cases"),
    label=EventLabel(table="fundraising_cases", horizon_days=365, settle_days=60),
    blocks=IFR_FEATURE_SET,
    model=ModelParams(
        num_leaves=7,
        max_depth=4,
        learning_rate=0.03,
        num_boost_round=400,
        early_stopping_rounds=80,
        min_data_in_leaf=200,
        feature_fraction=0.6,
        lambda_l2=10.0,
    ),
    policy=WarningPolicy(
        budget_per_run=50,
        tiers=(
            Tier("red", "红", 0.2, 0.3),
            Tier("orange", "橙", 0.5, 0.15),
            Tier("yellow", "黄", 1.0, 0.0),
        ),
        triggers=(
            RuleTrigger(
                "ifr_payout_delays__count_90d",
                ">=",
                1,
                "orange",
                "近90天出现兑付困难舆情",
                "payout-delay opinion item in the last 90 days",
            ),
            RuleTrigger(
                "ifr_promises__count_180d",
                ">=",
                2,
                "orange",
                "近半年多次出现高息承诺/保本保息舆情",
                "repeated high-yield or guaranteed-return promises in the last 180 days",
            ),
            RuleTrigger(
                "ifr_finance_scope__count_180d",
                ">=",
                1,
                "yellow",
                "近半年经营范围变更为投资理财类",
                "business scope changed to investment wording in the last 180 days",
            ),
        ),
        rule_baseline_feature="ifr_promises__count_180d",
    ),
    history_start="2023-01-01",
    synthetic_world="features.synthetic.fundraising:generate_fundraising_world",
    synthetic_kwargs=(("n_enterprises", 20_000),),
    limitations=(
        "Trained on filed cases; schemes that collapse without a case, or are stopped by a warning, look like "
        "false alarms.",
        "Offline schemes (word of mouth, seminars in closed rooms) leave few public-opinion items and are ranked low "
        "until complaints and payout delays appear.",
        "Elderly-care and health-care firms hold many legitimate seminars; a seminar alone is weak evidence.",
        "The label horizon is a year: the last year of data only labels as-of dates a year back.",
    ),
)
