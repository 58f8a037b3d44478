"""Table contracts of the fire-lane blockage (消防车道占用) theme: the lanes, their alerts and verified incidents.

The entity is a fire lane watched by a camera or ground sensor, not an enterprise: the tables are keyed by
`lane_id` (e.g. FL-330109-000123) and carry no credit code. Importing this module registers the contracts.
"""

from __future__ import annotations

import polars as pl

from features.contracts import Column, RowRule, TableContract, register_contract
from features.reference import TOWNS

LANE_ID_PATTERN = r"^FL-\d{6}-\d{6}$"
LANE_TYPES: dict[str, str] = {
    "old_community": "老旧小区",
    "new_community": "新建小区",
    "market": "农贸市场",
    "school": "学校",
    "commercial": "商业综合体",
    "hospital": "医院",
    "industrial": "工业园区",
}
VEHICLE_TYPES: dict[str, str] = {
    "car": "小汽车",
    "truck": "货车",
    "tricycle": "三轮车",
    "e_bike": "电动自行车",
    "stall": "摊位/杂物",
}
ALERT_LEVELS: dict[str, str] = {
    "brief": "短时占用(<15分钟)",
    "prolonged": "较长占用(15-60分钟)",
    "long": "长时占用(>60分钟)",
}
LEVEL_BOUNDS_MIN = (15.0, 60.0)  # duration thresholds of the levels, as the devices classify them
INCIDENT_SEVERITIES: dict[str, str] = {
    "serious_complaint": "严重占用投诉",
    "access_blocked": "核查确认通道堵塞",
    "engine_delayed": "消防车通行受阻",
}
OWNER = "fire-lane model team"


def _lane_id(description: str) -> Column:
    return Column("lane_id", pl.String, "消防车道编号", description)


def _level_mismatch() -> pl.Expr:
    low, high = LEVEL_BOUNDS_MIN
    expected = (
        pl.when(pl.col("duration_min") < low)
        .then(pl.lit("brief"))
        .when(pl.col("duration_min") < high)
        .then(pl.lit("prolonged"))
        .otherwise(pl.lit("long"))
    )
    return pl.col("level") != expected


FIRE_LANES = register_contract(
    TableContract(
        name="fire_lanes",
        title="消防车道及监测设备",
        kind="entity",
        description="One row per monitored fire lane: where it is, what it serves and when its device was installed.",
        keys=("lane_id",),
        entity_key="lane_id",
        event_at="installed_at",
        recorded_at="recorded_at",
        columns=(
            _lane_id("lane id FL-<division>-<number>"),
            Column("name", pl.String, "车道名称", "lane name (community and position)", free_text=True),
            Column("community", pl.String, "所属社区/村", "community or village"),
            Column("town", pl.String, "所属镇街", "town or street (镇街)", allowed=TOWNS),
            Column("grid_cell", pl.String, "网格", "grid cell (网格) id"),
            Column("lane_type", pl.String, "场所类型", "what the lane serves", allowed=tuple(LANE_TYPES)),
            Column("length_m", pl.Float64, "车道长度(米)", "length of the lane", minimum=5.0, maximum=2000.0),
            Column("installed_at", pl.Date, "设备安装日期", "date the monitoring device went live"),
            Column("decommissioned_at", pl.Date, "设备拆除日期", "date the device was removed", required=False),
            Column("recorded_at", pl.Date, "入库日期", "date the lane was registered in the platform"),
        ),
        rules=(
            RowRule(
                "decommissioned_at_before_installed_at",
                "decommissioned_at lies before installed_at",
                lambda: pl.col("decommissioned_at") < pl.col("installed_at"),
            ),
            RowRule(
                "lane_id_format",
                "lane_id is not FL-<6 digits>-<6 digits>",
                lambda: ~pl.col("lane_id").str.contains(LANE_ID_PATTERN),
            ),
        ),
        owner=OWNER,
        tags=("fire_lanes",),
    )
)

LANE_ALERTS = register_contract(
    TableContract(
        name="lane_alerts",
        title="消防车道占用告警",
        kind="event",
        description="Occupation alerts raised by a lane's device: how long the lane was blocked and by what.",
        keys=("alert_id",),
        entity_key="lane_id",
        event_at="event_at",
        recorded_at="recorded_at",
        columns=(
            Column("alert_id", pl.String, "告警编号", "alert id"),
            _lane_id("lane the alert belongs to"),
            Column("event_at", pl.Date, "告警日期", "date the occupation began"),
            Column("recorded_at", pl.Date, "入库日期", "date the alert reached the platform"),
            Column(
                "duration_min",
                pl.Float64,
                "占用时长(分钟)",
                "minutes the lane stayed blocked",
                minimum=0.0,
                maximum=7 * 24 * 60.0,
            ),
            Column("level", pl.String, "告警等级", "duration class set by the device", allowed=tuple(ALERT_LEVELS)),
            Column("vehicle_type", pl.String, "占用物类型", "what blocked the lane", allowed=tuple(VEHICLE_TYPES)),
            Column("dispatched", pl.Boolean, "是否派单处置", "a grid worker was dispatched"),
        ),
        rules=(RowRule("level_mismatch", "level does not match duration_min", _level_mismatch),),
        owner=OWNER,
        tags=("fire_lanes",),
    )
)

LANE_INCIDENTS = register_contract(
    TableContract(
        name="lane_incidents",
        title="消防车道堵塞事件(核实)",
        kind="event",
        description="Outcome events: verified obstructions (a serious complaint, a blocked lane found on inspection "
        "or a fire engine delayed) — the ground truth for labels.",
        keys=("incident_id",),
        entity_key="lane_id",
        event_at="occurred_at",
        recorded_at="recorded_at",
        columns=(
            Column("incident_id", pl.String, "事件编号", "incident id"),
            _lane_id("lane the incident happened on"),
            Column("occurred_at", pl.Date, "发生日期", "date of the incident"),
            Column("recorded_at", pl.Date, "核实日期", "date the incident was verified"),
            Column("severity", pl.String, "严重程度", "what happened", allowed=tuple(INCIDENT_SEVERITIES)),
        ),
        owner=OWNER,
        tags=("fire_lanes",),
    )
)

FIRE_LANE_WORLD_TABLES: tuple[str, ...] = ("fire_lanes", "lane_alerts", "lane_incidents")
