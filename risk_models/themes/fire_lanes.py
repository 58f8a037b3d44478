"""消防车道占用预警 — fire-lane blockage warning: which monitored fire lanes are heading for a verified obstruction.

The entity is a lane (FL-330109-000123), not an enterprise: the same generator, cohort, label and policy machinery
runs on a different entity table. Built only from generic blocks over the tables declared in
`features.tables_fire_lanes`; importing this file registers those contracts.
"""

from __future__ import annotations

from features.blocks.generic import (
    category_shares,
    monthly_trend,
    peer_relative,
    recency,
    static_attributes,
    window_stats,
    window_surge,
)
from features.tables_fire_lanes import FIRE_LANE_WORLD_TABLES, VEHICLE_TYPES
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

OWNER = "fire-lane model team"
ALERTS = "lane_alerts"

profile = static_attributes(
    "fl_profile",
    "fire_lanes",
    age_from="installed_at",
    owner=OWNER,
    numbers={"length_m": ("车道长度(米)", "lane length in metres")},
    categories={"lane_type": ("场所类型", "lane type"), "town": ("所属镇街", "town/street")},
)
alerts = window_stats(
    "fl_alerts",
    ALERTS,
    (7, 30, 90),
    value="duration_min",
    owner=OWNER,
    label_zh="占用告警",
    label_en="occupation alerts",
    description="occupation alerts and minutes blocked in trailing windows",
)
long_alerts = window_stats(
    "fl_long_alerts",
    ALERTS,
    (7, 30, 90),
    filter_column="level",
    filter_values=("long",),
    owner=OWNER,
    label_zh="长时占用告警",
    label_en="long (>60 min) occupation alerts",
)
long_surge = window_surge(
    "fl_long_surge",
    ALERTS,
    30,
    90,
    filter_column="level",
    filter_values=("prolonged", "long"),
    owner=OWNER,
    label_zh="较长及长时占用告警",
    label_en="occupation alerts over 15 min",
)
alert_trend = monthly_trend(
    "fl_alert_trend", ALERTS, 6, value="duration_min", owner=OWNER, label_zh="占用时长", label_en="minutes blocked"
)
long_recency = recency(
    "fl_long_recency",
    ALERTS,
    filter_column="level",
    filter_values=("long",),
    owner=OWNER,
    label_zh="长时占用告警",
    label_en="long occupation alert",
)
level_mix = category_shares(
    "fl_level_mix",
    ALERTS,
    "level",
    {"prolonged": "较长占用", "long": "长时占用"},
    30,
    owner=OWNER,
    label_zh="占用告警",
    label_en="occupation alerts",
)
vehicle_mix = category_shares(
    "fl_vehicle_mix", ALERTS, "vehicle_type", VEHICLE_TYPES, 90, owner=OWNER, label_zh="占用告警", label_en="alerts"
)
alerts_vs_town = peer_relative("fl_alerts_vs_town", alerts, "count_30d", profile, by=("town",), owner=OWNER)
minutes_vs_type = peer_relative("fl_minutes_vs_type", alerts, "sum_90d", profile, by=("lane_type",), owner=OWNER)

FL_FEATURE_SET = (
    profile,
    alerts,
    long_alerts,
    long_surge,
    alert_trend,
    long_recency,
    level_mix,
    vehicle_mix,
    alerts_vs_town,
    minutes_vs_type,
)

SPEC = ThematicModelSpec(
    name="fire_lanes",
    title_zh="消防车道占用预警",
    title_en="Fire-lane blockage warning",
    owner=OWNER,
    purpose="Rank monitored fire lanes by the risk of a verified obstruction (a serious complaint, a lane found "
    "blocked on inspection or a fire engine delayed) within 90 days, so that grid workers patrol and fix the "
    "lanes most likely to be blocked when it matters.",
    entity=Entity(
        table="fire_lanes",
        label_zh="消防车道",
        label_en="fire lane",
        name_column="name",
        area_column="town",
        group_column="lane_type",
    ),
    tables=FIRE_LANE_WORLD_TABLES,
    cohort=Cohort(start_column="installed_at", end_column="decommissioned_at", min_age_days=30),
    label=EventLabel(table="lane_incidents", horizon_days=90, settle_days=30, recurrent=True),
    blocks=FL_FEATURE_SET,
    model=ModelParams(
        num_leaves=7,
        max_depth=4,
        learning_rate=0.03,
        num_boost_round=300,
        early_stopping_rounds=80,
        min_data_in_leaf=100,
        lambda_l2=5.0,
        valid_months=6,
    ),
    policy=WarningPolicy(
        budget_per_run=30,
        tiers=(
            Tier("red", "红", 0.2, 0.4),
            Tier("orange", "橙", 0.5, 0.2),
            Tier("yellow", "黄", 1.0, 0.0),
        ),
        triggers=(
            RuleTrigger(
                "fl_long_alerts__count_7d",
                ">=",
                3,
                "red",
                "近7天长时占用告警3次及以上",
                "three or more long occupation alerts in the last 7 days",
            ),
        ),
        rule_baseline_feature="fl_long_alerts__count_30d",
    ),
    history_start="2023-01-01",
    synthetic_world="features.synthetic.fire_lanes:generate_fire_lane_world",
    synthetic_kwargs=(("n_lanes", 1391),),
    limitations=(
        "Incidents recur: a lane with an incident before t stays in the cohort and is labelled by its next one, so "
        "past incidents (a feature) and the label are related by design.",
        "A device that is offline raises no alerts while the lane may still be blocked: a silent lane is not "
        "necessarily a clear one.",
        "Incidents are verified complaints and inspections; blockages nobody reported are invisible to the label.",
    ),
)
