"""Reason codes rendered from hand-made rows and contributions, compared with golden files (never just written).

The golden tests use a small hand-made theme (GOLDEN_SPEC, labels as the prepaid blocks declare them), so they pin
the rendering rules and do not move when the shipped theme is edited; every shipped prepaid feature is checked to
render separately. Set RISKGEN_UPDATE_GOLDEN=1 to rewrite the golden files after an intended wording change, then
review the diff.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from features.blocks.base import FeatureBlock, FeatureColumn
from risk_models.explain import Contributions
from risk_models.reasons import (
    REASONS,
    feature_columns,
    peer_columns,
    peer_medians,
    peer_phrases,
    reasons_for,
)
from risk_models.spec import Cohort, Entity, EventLabel, RuleTrigger, ThematicModelSpec, WarningPolicy
from risk_models.themes.prepaid_cards import SPEC

GOLDEN = Path(__file__).parent / "golden"


def block(name: str, *columns: FeatureColumn) -> FeatureBlock:
    return FeatureBlock(name, "tests", "hand-made block for the golden reasons", ("t",), columns, lambda view: view)


GOLDEN_SPEC = ThematicModelSpec(
    name="golden_reasons",
    title_zh="理由测试",
    title_en="reason golden test",
    owner="tests",
    purpose="pin the reason sentences",
    entity=Entity(table="enterprises"),
    tables=("enterprises", "closures", "t"),
    cohort=Cohort(),
    label=EventLabel(table="closures", horizon_days=180),
    blocks=(
        block(
            "profile",
            FeatureColumn("log_registered_capital", "注册资本(对数)", "log1p of registered capital", "number", None),
            FeatureColumn("sector", "行业板块", "sector", "category", None),
        ),
        block(
            "refund_complaints",
            FeatureColumn(
                "count_90d", "近90天退费类投诉数", "refund-refusal complaints in 90 days", "count", 0, 90, True
            ),
        ),
        block(
            "card_sales",
            FeatureColumn("count_30d", "近30天售卡充值数", "card sales and recharges in 30 days", "count", 0, 30, True),
            FeatureColumn(
                "sum_90d", "近90天售卡充值金额", "card sales and recharges amount, 90 days", "amount", 0.0, 90
            ),
        ),
        block(
            "escrow",
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
                "below_line", "存管余额低于近一年充值额的20%", "escrow balance below 20 % of a year's recharges", "flag"
            ),
            FeatureColumn(
                "balance_vs_prior",
                "存管余额较3-6个月前之比",
                "escrow balance vs 90-180 days before",
                "ratio",
                None,
                180,
            ),
        ),
        block(
            "liability",
            FeatureColumn(
                "growth_90d", "近90天预付余额增长率", "liability growth over 90 days", "ratio", None, 90, True
            ),
        ),
        block(
            "presale_spike",
            FeatureColumn(
                "surge_30_180d",
                "近30天售卡充值额较前180天倍数",
                "card sales: last 30 days vs the 180 before",
                "ratio",
                None,
                30,
                True,
            ),
        ),
        block(
            "complaint_trend",
            FeatureColumn(
                "last_vs_mean", "最近一月投诉量与6月均值之比", "complaints: last 30 days vs the 6-month mean", "ratio"
            ),
        ),
        block(
            "complaints_peer",
            FeatureColumn(
                "count_365d_peer_ratio",
                "近365天投诉数为同行业、同镇街中位数的倍数",
                "complaints in 365 days relative to the peer median (sector, town)",
                "ratio",
            ),
        ),
        block(
            "complaint_recency",
            FeatureColumn("days_since_last", "距最近一次投诉天数", "days since the last complaint", "days", None),
        ),
        block(
            "legal_rep",
            FeatureColumn("age", "法定代表人年龄", "legal representative's age", "number", None),
            FeatureColumn(
                "changes_365d", "近365天法定代表人变更次数", "representative changes in 365 days", "count", 0, 365
            ),
            FeatureColumn(
                "elderly_nonlocal_change",
                "近一年法定代表人变更为外地老年人",
                "changed within a year to a non-local person aged 60+",
                "flag",
            ),
        ),
        block(
            "abnormal_list",
            FeatureColumn("active", "当前处于列入经营异常名录", "currently on the abnormal operation list", "flag"),
        ),
    ),
    policy=WarningPolicy(
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
                "abnormal_list__active", ">=", 1, "yellow", "已列入经营异常名录", "on the abnormal operation list"
            ),
        ),
    ),
)
AS_OF = date(2026, 6, 30)
FEATURES = (
    "refund_complaints__count_90d",
    "card_sales__sum_90d",
    "escrow__coverage",
    "escrow__below_line",
    "liability__growth_90d",
    "presale_spike__surge_30_180d",
    "complaint_trend__last_vs_mean",
    "escrow__balance_vs_prior",
    "complaints_peer__count_365d_peer_ratio",
    "complaint_recency__days_since_last",
    "legal_rep__age",
    "legal_rep__changes_365d",
    "legal_rep__elderly_nonlocal_change",
    "profile__log_registered_capital",
    "profile__sector",
    "abnormal_list__active",
    "card_sales__count_30d",
)

# Peers: education firms in 城厢街道 (E1-E5 and the explained A, B) and fitness firms in 北干街道 (F1-F3 and C).
COHORT: list[dict[str, Any]] = [
    {
        "entity_id": "E1",
        "sector": "education_training",
        "town": "城厢街道",
        "refund": 1,
        "sales": 100_000.0,
        "coverage": 0.8,
        "growth": 0.02,
        "days": 200,
        "age": 45,
        "changes": 0,
        "capital": 13.1,
        "count30": 10,
    },
    {
        "entity_id": "E2",
        "sector": "education_training",
        "town": "城厢街道",
        "refund": 0,
        "sales": 150_000.0,
        "coverage": 0.9,
        "growth": -0.01,
        "days": 400,
        "age": 38,
        "changes": 0,
        "capital": 12.2,
        "count30": 0,
    },
    {
        "entity_id": "E3",
        "sector": "education_training",
        "town": "城厢街道",
        "refund": 2,
        "sales": 80_000.0,
        "coverage": 0.7,
        "growth": 0.05,
        "days": None,
        "age": 52,
        "changes": 1,
        "capital": 13.8,
        "count30": 0,
    },
    {
        "entity_id": "E4",
        "sector": "education_training",
        "town": "城厢街道",
        "refund": 1,
        "sales": 120_000.0,
        "coverage": None,
        "growth": 0.00,
        "days": 90,
        "age": 41,
        "changes": 0,
        "capital": 11.5,
        "count30": 0,
    },
    {
        "entity_id": "F1",
        "sector": "fitness",
        "town": "北干街道",
        "refund": 0,
        "sales": 3_000.0,
        "coverage": 0.5,
        "growth": -0.2,
        "days": 30,
        "age": 33,
        "changes": 0,
        "capital": 10.0,
        "count30": 3,
    },
    {
        "entity_id": "F2",
        "sector": "fitness",
        "town": "北干街道",
        "refund": 0,
        "sales": 5_000.0,
        "coverage": 0.6,
        "growth": -0.1,
        "days": 60,
        "age": 36,
        "changes": 0,
        "capital": 10.5,
        "count30": 4,
    },
    {
        "entity_id": "F3",
        "sector": "fitness",
        "town": "北干街道",
        "refund": 0,
        "sales": 0.0,
        "coverage": 0.4,
        "growth": -0.3,
        "days": 90,
        "age": 29,
        "changes": 0,
        "capital": 9.9,
        "count30": 5,
    },
]
EXPLAINED: list[dict[str, Any]] = [
    # A: many refund complaints, a pre-closure sales spike, escrow below the line (rule), elderly non-local rep (rule)
    {
        "entity_id": "A",
        "sector": "education_training",
        "town": "城厢街道",
        "refund": 7,
        "sales": 1_234_567.0,
        "coverage": 0.12,
        "growth": 0.35,
        "days": 3,
        "age": 67,
        "changes": 2,
        "capital": 13.5,
        "count30": 12,
        "below": 1,
        "elderly": 1,
        "abnormal": 0,
        "spike": 4.25,
        "last_vs_mean": 2.5,
        "vs_prior": 0.4,
        "peer": 3.5,
    },
    # B: no complaints (median 0), coverage unknown, sector and capital drive the score, on the abnormal list (rule)
    {
        "entity_id": "B",
        "sector": "education_training",
        "town": "城厢街道",
        "refund": 0,
        "sales": 9_800.0,
        "coverage": None,
        "growth": None,
        "days": None,
        "age": 40,
        "changes": 0,
        "capital": 15.2,
        "count30": 0,
        "below": 0,
        "elderly": 0,
        "abnormal": 1,
        "spike": None,
        "last_vs_mean": 1.0,
        "vs_prior": 1.02,
        "peer": 0.0,
    },
    # C: fitness firm close to its peers
    {
        "entity_id": "C",
        "sector": "fitness",
        "town": "北干街道",
        "refund": 3,
        "sales": 4_100.0,
        "coverage": 0.55,
        "growth": -0.15,
        "days": 45,
        "age": 35,
        "changes": 0,
        "capital": 10.2,
        "count30": 4,
        "below": 0,
        "elderly": 0,
        "abnormal": 0,
        "spike": 0.5,
        "last_vs_mean": 0.8,
        "vs_prior": 250.0,
        "peer": 1.0,
    },
    # D: town unknown (no peer group: no comparison), one small push up
    {
        "entity_id": "D",
        "sector": "retail",
        "town": None,
        "refund": 1,
        "sales": 20_000.0,
        "coverage": 0.9,
        "growth": 0.0,
        "days": 10,
        "age": 50,
        "changes": 0,
        "capital": 11.0,
        "count30": 1,
        "below": 0,
        "elderly": 0,
        "abnormal": 0,
        "spike": 1.0,
        "last_vs_mean": 1.0,
        "vs_prior": 1.0,
        "peer": None,
    },
]
# Contributions (log-odds) of the explained rows, by feature.
CONTRIBUTIONS: dict[str, dict[str, float]] = {
    "A": {
        "refund_complaints__count_90d": 0.9,
        "escrow__below_line": 0.7,
        "presale_spike__surge_30_180d": 0.5,
        "card_sales__sum_90d": 0.3,
        "legal_rep__elderly_nonlocal_change": 0.25,
        "escrow__coverage": 0.2,
        "liability__growth_90d": 0.1,
        "complaint_recency__days_since_last": -0.4,
        "legal_rep__age": 0.05,
    },
    "B": {
        "profile__sector": 0.6,
        "profile__log_registered_capital": 0.4,
        "escrow__coverage": 0.35,
        "refund_complaints__count_90d": 0.3,
        "card_sales__count_30d": 0.2,
        "complaints_peer__count_365d_peer_ratio": 0.1,
        "abnormal_list__active": 0.05,
        "liability__growth_90d": -0.2,
    },
    "C": {
        "escrow__balance_vs_prior": 0.3,
        "card_sales__sum_90d": 0.25,
        "refund_complaints__count_90d": 0.2,
        "complaint_trend__last_vs_mean": 0.15,
        "legal_rep__changes_365d": 0.1,
    },
    "D": {"refund_complaints__count_90d": -0.3, "escrow__coverage": -0.1, "card_sales__count_30d": 0.05},
}
TRIGGERS = {"A": ["legal_rep__elderly_nonlocal_change", "escrow__below_line"], "B": ["abnormal_list__active"]}


def frame_of(rows: list[dict[str, Any]]) -> pl.DataFrame:
    def get(key: str, default: Any = 0) -> list[Any]:
        return [r.get(key, default) for r in rows]

    return pl.DataFrame(
        {
            "entity_id": get("entity_id"),
            "as_of": [AS_OF] * len(rows),
            "entity__sector": get("sector"),
            "entity__town": get("town"),
            "refund_complaints__count_90d": pl.Series(get("refund"), dtype=pl.Int64),
            "card_sales__sum_90d": pl.Series(get("sales"), dtype=pl.Float64),
            "escrow__coverage": pl.Series(get("coverage"), dtype=pl.Float64),
            "escrow__below_line": pl.Series(get("below"), dtype=pl.Int8),
            "liability__growth_90d": pl.Series(get("growth"), dtype=pl.Float64),
            "presale_spike__surge_30_180d": pl.Series(get("spike", 1.0), dtype=pl.Float64),
            "complaint_trend__last_vs_mean": pl.Series(get("last_vs_mean", 1.0), dtype=pl.Float64),
            "escrow__balance_vs_prior": pl.Series(get("vs_prior", 1.0), dtype=pl.Float64),
            "complaints_peer__count_365d_peer_ratio": pl.Series(get("peer", 1.0), dtype=pl.Float64),
            "complaint_recency__days_since_last": pl.Series(get("days"), dtype=pl.Int64),
            "legal_rep__age": pl.Series(get("age"), dtype=pl.Int64),
            "legal_rep__changes_365d": pl.Series(get("changes"), dtype=pl.Int64),
            "legal_rep__elderly_nonlocal_change": pl.Series(get("elderly"), dtype=pl.Int8),
            "profile__log_registered_capital": pl.Series(get("capital"), dtype=pl.Float64),
            "profile__sector": get("sector"),
            "abnormal_list__active": pl.Series(get("abnormal"), dtype=pl.Int8),
            "card_sales__count_30d": pl.Series(get("count30"), dtype=pl.Int64),
        }
    )


def contributions_of(rows: pl.DataFrame) -> Contributions:
    ids = tuple(rows["entity_id"].to_list())
    values = np.array([[CONTRIBUTIONS[e].get(f, 0.0) for f in FEATURES] for e in ids])
    base = -3.0
    return Contributions(
        entity_ids=ids,
        as_of=tuple(rows["as_of"].to_list()),
        feature_names=FEATURES,
        values=values,
        base_value=base,
        raw_scores=values.sum(axis=1) + base,
        max_additivity_error=0.0,
        method="hand-made",
        model_sha256="0" * 64,
    )


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    cohort = frame_of(COHORT + EXPLAINED)
    peers = peer_medians(cohort, FEATURES, peer_columns(GOLDEN_SPEC, cohort))
    explained = frame_of(EXPLAINED)
    return reasons_for(GOLDEN_SPEC, explained, contributions_of(explained), TRIGGERS, peers)


def check_golden(name: str, actual: Any) -> None:
    path = GOLDEN / name
    text = json.dumps(actual, ensure_ascii=False, indent=2) + "\n"
    if os.environ.get("RISKGEN_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"golden file {path} is missing (create it with RISKGEN_UPDATE_GOLDEN=1 and review it)"
    assert json.loads(path.read_text(encoding="utf-8")) == actual


def test_reasons_match_the_chinese_golden(table: pl.DataFrame) -> None:
    actual = {
        entity: [{k: r[k] for k in ("code", "text_zh", "contribution", "value", "peer_median")} for r in reasons]
        for entity, reasons in table.select("entity_id", REASONS).iter_rows()
    }
    check_golden("reasons_zh.json", actual)


def test_reasons_match_the_english_golden(table: pl.DataFrame) -> None:
    actual = {
        entity: [r["text_en"] for r in reasons] for entity, reasons in table.select("entity_id", REASONS).iter_rows()
    }
    check_golden("reasons_en.json", actual)


def test_rules_come_first_then_at_most_four_positive_contributions(table: pl.DataFrame) -> None:
    reasons = dict(table.select("entity_id", REASONS).iter_rows())
    codes_a = [r["code"] for r in reasons["A"]]
    # policy order, not the order the triggers were given in; the triggered features are not repeated as model reasons
    assert codes_a[:2] == ["rule:escrow__below_line", "rule:legal_rep__elderly_nonlocal_change"]
    assert codes_a[2:] == [
        "model:refund_complaints__count_90d",
        "model:presale_spike__surge_30_180d",
        "model:card_sales__sum_90d",
        "model:escrow__coverage",
    ]
    assert all(r["contribution"] > 0 for r in reasons["A"][2:])
    assert [r["text_zh"] for r in reasons["D"]] == ["近30天售卡充值1笔"]  # no peer group, no comparison
    assert reasons["D"][0]["peer_median"] is None
    assert table.columns == ["entity_id", "as_of", REASONS] and table["entity_id"].to_list() == ["A", "B", "C", "D"]


def test_no_positive_contribution_no_model_reason() -> None:
    explained = frame_of(EXPLAINED)
    result = contributions_of(explained)
    negative = Contributions(
        result.entity_ids,
        result.as_of,
        FEATURES,
        -np.abs(result.values),
        0.0,
        -np.abs(result.values).sum(axis=1),
        0.0,
        "hand-made",
        "0" * 64,
    )
    table = reasons_for(GOLDEN_SPEC, explained, negative, {"B": ["abnormal_list__active"]})
    assert [len(r) for r in table[REASONS].to_list()] == [0, 1, 0, 0]


def test_the_example_sentence_of_the_architecture(table: pl.DataFrame) -> None:
    first_model_reason = dict(table.select("entity_id", REASONS).iter_rows())["A"][2]
    assert first_model_reason["text_zh"] == "近90天退费类投诉7件，为同行业同镇街中位数的7倍"


def test_peer_medians_per_group_and_date() -> None:
    cohort = frame_of(COHORT + EXPLAINED)
    peers = peer_medians(cohort, FEATURES, ["entity__sector", "entity__town"])
    education = peers.filter(pl.col("entity__sector") == "education_training").row(0, named=True)
    assert education["refund_complaints__count_90d"] == 1.0 and education["peer_count"] == 6
    assert "profile__sector" not in peers.columns  # categories have no median
    assert peers.filter(pl.col("entity__town").is_null()).height == 0  # no group for an unknown town
    assert peer_phrases(["entity__sector", "entity__town"]) == ("同行业同镇街", "firms in the same sector and town")
    # A group column without a fixed phrase is named by its data-dictionary label, not its raw name.
    assert peer_phrases(["entity__lane_type", "entity__town"], {"lane_type": "场所类型"}) == (
        "同场所类型同镇街",
        "firms in the same lane type and town",
    )
    assert peer_columns(GOLDEN_SPEC, cohort.drop("entity__sector")) == ["profile__sector", "entity__town"]


def test_rows_must_match_the_contributions_and_triggers_the_policy() -> None:
    explained = frame_of(EXPLAINED)
    with pytest.raises(ValueError, match="same rows"):
        reasons_for(GOLDEN_SPEC, explained.reverse(), contributions_of(explained))
    with pytest.raises(ValueError, match="not rule triggers"):
        reasons_for(GOLDEN_SPEC, explained, contributions_of(explained), {"A": ["complaints__count_30d"]})


def test_triggers_from_the_warning_list_frame() -> None:
    explained = frame_of(EXPLAINED)
    frame = pl.DataFrame({"entity_id": ["B"], "triggers": [["abnormal_list__active"]]})
    table = reasons_for(GOLDEN_SPEC, explained, contributions_of(explained), frame)
    first = dict(table.select("entity_id", REASONS).iter_rows())["B"][0]
    assert first["code"] == "rule:abnormal_list__active" and first["text_zh"] == "已列入经营异常名录"


def test_a_windowed_label_without_its_window_gets_it() -> None:
    from risk_models.reasons import _with_window

    column = FeatureColumn("count_60d", "退款申请数", "refund requests", "count", 0, 60, True)
    assert _with_window(column) == ("近60天退款申请数", "refund requests, 60 days")
    labelled = FeatureColumn("count_90d", "近90天退费类投诉数", "refund-refusal complaints in 90 days", "count", 0, 90)
    assert _with_window(labelled) == (labelled.label_zh, labelled.label_en)


def test_every_prepaid_feature_renders_in_both_languages() -> None:
    """No feature of the shipped theme falls through to a raw column name or an unformatted number."""
    columns = feature_columns(SPEC)
    names = tuple(columns)
    row = {n: ("education_training" if columns[n].kind == "category" else 3.0) for n in names}
    row |= {"entity_id": "X", "entity__sector": "education_training", "entity__town": "城厢街道"}
    frame = pl.DataFrame([row]).with_columns(pl.lit(AS_OF).alias("as_of"))
    values = np.linspace(1.0, 0.5, len(names)).reshape(1, -1)
    result = Contributions(("X",), (AS_OF,), names, values, 0.0, values.sum(axis=1), 0.0, "hand-made", "0" * 64)
    reasons = reasons_for(SPEC, frame, result, max_reasons=len(names))[REASONS][0]
    assert len(reasons) == len(names)
    for r in reasons:
        assert "__" not in r["text_zh"] and "__" not in r["text_en"], r
        assert r["text_zh"] and r["text_en"]
