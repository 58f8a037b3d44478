"""预付卡消费预警 — prepaid-card consumption warning: which card issuers are heading for closure or absconding."""

from __future__ import annotations

from features.blocks.prepaid import PREPAID_FEATURE_SET
from features.tables import PREPAID_WORLD_TABLES
from risk_models.spec import (
    Cohort,
    Entity,
    EventLabel,
    ModelParams,
    RuleTrigger,
    ThematicModelSpec,
    WarningPolicy,
)

SPEC = ThematicModelSpec(
    name="prepaid_cards",
    title_zh="预付卡消费预警",
    title_en="Prepaid-card consumption warning",
    owner="prepaid-card model team",
    purpose="Rank prepaid-card issuers by the risk of closing or absconding within 180 days, so that staff research "
    "the firms most likely to leave card holders unpaid first.",
    entity=Entity(table="enterprises", label_zh="企业", label_en="enterprise"),
    tables=PREPAID_WORLD_TABLES,
    cohort=Cohort(where=(("prepaid_filing", (True,)),), min_age_days=90, ended_by="closures"),
    label=EventLabel(table="closures", horizon_days=180, filter_column="kind", filter_values=("absconding", "closure")),
    blocks=PREPAID_FEATURE_SET,
    model=ModelParams(),
    policy=WarningPolicy(
        budget_per_run=100,
        triggers=(
            RuleTrigger(
                "escrow__below_line",
                ">=",
                1,
                "orange",
                "存管账户余额低于近一年充值额的20%",
                "escrow balance below 20 % of the money recharged in a year",
            ),
            RuleTrigger(
                "legal_rep__elderly_nonlocal_change",
                ">=",
                1,
                "orange",
                "法定代表人近一年变更为外地老年人",
                "legal representative changed to a non-local elderly person",
            ),
            RuleTrigger(
                "unreachable__active",
                ">=",
                1,
                "yellow",
                "因通过登记住所无法联系被列入经营异常名录",
                "on the abnormal operation list: unreachable at the registered address",
            ),
        ),
        rule_baseline_feature="refund_complaints__count_90d",
    ),
    synthetic_world="features.synthetic:generate_world",
    synthetic_kwargs=(("n_enterprises", 20_000),),
    limitations=(
        "Trained on closures observed in the registry and complaints; firms that close without any recorded trace "
        "are invisible to it.",
        "A warning can prevent the closure it predicts; confirmed research outcomes are the better label once "
        "enough exist.",
    ),
)
