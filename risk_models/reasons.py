"""Reason codes: the top contributions toward risk, as plain, stable Chinese (and English) sentences.

A reason names the feature (from the block's column labels), the entity's value formatted by the column's kind
(counts in 件/次/笔, amounts in 元/万元/亿元, ratios as % or 倍, days in 天, flags 是/否, categories by name), and its
peer comparison: the median of the same feature among entities of the same group and area (e.g. sector and town) at
the same as-of date, e.g. "近90天退费类投诉7件，为同行业同镇街中位数的5.2倍". Rule triggers that fired for the entity
come first, with the rule's own reason text.

    peers = peer_medians(cohort_scored, features, peer_columns(spec, cohort_scored))   # the whole cohort
    table = reasons_for(spec, top_rows, contributions(scorer, top_rows), triggers, peers)

`reasons_for` returns one row per scored row: `entity_id` (and `as_of`) and `reasons`, a list of structs
{code, feature, text_zh, text_en, contribution, value, peer_median}; codes are `rule:<feature>` and `model:<feature>`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from features.asof import ENTITY
from features.assembly import AS_OF
from features.blocks.base import FeatureColumn
from features.contracts import get_contract
from features.reference import INDUSTRIES, SECTOR_LABELS
from risk_models.explain import Contributions
from risk_models.spec import RuleTrigger, ThematicModelSpec

MAX_REASONS = 4
REASONS = "reasons"
PEER_COUNT = "peer_count"
REASON_TYPE = pl.Struct(
    {
        "code": pl.String,
        "feature": pl.String,
        "text_zh": pl.String,
        "text_en": pl.String,
        "contribution": pl.Float64,
        "value": pl.Float64,
        "peer_median": pl.Float64,
    }
)
PEER_WORDS = {"sector": ("同行业", "sector"), "town": ("同镇街", "town"), "industry_code": ("同行业代码", "industry")}
CATEGORY_VALUES: dict[str, Mapping[str, str]] = {
    "sector": SECTOR_LABELS,
    "industry_code": {code: f"{code}（{name}）" for code, (_, name) in INDUSTRIES.items()},
}
_PEER_KINDS = ("count", "amount", "ratio", "days", "number")
_TRANSACTION_WORDS = ("售卡", "充值", "核销", "退款", "交易")


@dataclass(frozen=True)
class Reason:
    """One reason of one entity (a row of the `reasons` list)."""

    code: str
    feature: str
    text_zh: str
    text_en: str
    contribution: float | None
    value: float | None
    peer_median: float | None


# ---------------------------------------------------------------------------------------------------------- peers
def feature_columns(spec: ThematicModelSpec) -> dict[str, FeatureColumn]:
    """Frame column name (`<block>__<column>`) -> its declared column (labels, kind, window)."""
    return {block.output_name(c.name): c for block in spec.blocks for c in block.columns}


def feature_families(spec: ThematicModelSpec) -> dict[str, str]:
    """Frame column name -> the block it comes from (the reason family)."""
    return {block.output_name(c.name): block.name for block in spec.blocks for c in block.columns}


def peer_columns(spec: ThematicModelSpec, frame: pl.DataFrame) -> list[str]:
    """The frame's columns naming the peer group: the spec's group then area column, as `entity__<column>` when the
    frame has it (scored cohorts), else a feature `<block>__<column>` (e.g. `profile__sector` in training frames)."""
    found = []
    for column in (spec.entity.group_column, spec.entity.area_column):
        if not column:
            continue
        candidates = [f"entity__{column}", *(c for c in frame.columns if c.endswith(f"__{column}"))]
        match = next((c for c in candidates if c in frame.columns), None)
        if match is None:
            raise ValueError(f"the frame has no column for the peer group {column!r} (entity__{column} or a feature)")
        found.append(match)
    return found


def peer_medians(scored: pl.DataFrame, features: Sequence[str], group_cols: Sequence[str]) -> pl.DataFrame:
    """Median of each numeric feature per peer group (and as-of date when the frame has one), with the group size.

    Rows whose group is unknown form no group. Nulls are ignored by the median (entities without a value).
    """
    keys = [*group_cols, *([AS_OF] if AS_OF in scored.columns else [])]
    numeric = [
        f for f in features if f in scored.columns and (scored.schema[f].is_numeric() or scored.schema[f] == pl.Boolean)
    ]
    grouped = scored.drop_nulls(list(group_cols)).group_by(keys)
    medians = grouped.agg(*(pl.col(f).cast(pl.Float64).median() for f in numeric), pl.len().alias(PEER_COUNT))
    return medians.sort(keys)


def peer_phrases(group_cols: Sequence[str], labels: Mapping[str, str] | None = None) -> tuple[str, str]:
    """("同行业同镇街", "firms in the same sector and town") for group columns such as entity__sector, entity__town.

    Columns without a fixed phrase are named by their Chinese `labels` (the entity table's data dictionary), e.g.
    lane_type -> "同场所类型", never by the raw column name.
    """
    bases = [c.split("__")[-1] for c in group_cols]
    known = labels or {}
    zh = "".join(PEER_WORDS.get(b, (f"同{known.get(b, b)}", b))[0] for b in bases)
    en = " and ".join(PEER_WORDS.get(b, (b, b))[1].replace("_", " ") for b in bases)
    return zh, f"firms in the same {en}"


# -------------------------------------------------------------------------------------------------------- reasons
def reasons_for(
    spec: ThematicModelSpec,
    scored_rows: pl.DataFrame,
    contributions: Contributions,
    triggers_by_entity: Mapping[str, Sequence[str]] | pl.DataFrame | None = None,
    peers: pl.DataFrame | None = None,
    max_reasons: int = MAX_REASONS,
    group_cols: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Reasons of every row of `scored_rows` (the rows `contributions` explains, in the same order).

    Args:
        spec: the theme (column labels, peer group columns, rule triggers).
        scored_rows: feature values of the entities to explain, with their peer group columns.
        contributions: their TreeSHAP contributions.
        triggers_by_entity: triggered rule features per entity id (or the warning list's `triggered` frame with
            `entity_id` and `triggers`); each becomes a reason of its own, listed first.
        peers: `peer_medians` of the whole cohort (default: medians among `scored_rows` themselves).
        max_reasons: at most this many model reasons (positive contributions, largest first) per row.
        group_cols: peer group columns (default: `peer_columns(spec, scored_rows)`).
    """
    if tuple(str(e) for e in scored_rows[ENTITY].to_list()) != contributions.entity_ids:
        raise ValueError("scored_rows and contributions do not describe the same rows in the same order")
    groups = list(group_cols) if group_cols is not None else peer_columns(spec, scored_rows)
    names = list(contributions.feature_names)
    table = peers if peers is not None else peer_medians(scored_rows, names, groups)
    medians = _peer_lookup(scored_rows, table, groups, names)
    dictionary = {c.name: c.label for c in get_contract(spec.entity.table).columns}
    renderer = _Renderer(feature_columns(spec), *peer_phrases(groups, dictionary))
    triggers = _trigger_map(triggers_by_entity)
    rules = {t.feature: t for t in spec.policy.triggers}
    rows = scored_rows.to_dicts()
    lists = []
    for i, row in enumerate(rows):
        fired = _fired(rules, triggers.get(str(row[ENTITY]), ()))
        reasons = [_rule_reason(t, row, contributions, i) for t in fired]
        skip = {t.feature for t in fired}
        for j in _top_positive(contributions.values[i], max_reasons, [names.index(f) for f in skip if f in names]):
            feature = names[j]
            reasons.append(
                renderer.reason(feature, row.get(feature), medians[i].get(feature), contributions.values[i, j])
            )
        lists.append([vars(r) for r in reasons])
    keys = scored_rows.select(ENTITY, *([AS_OF] if AS_OF in scored_rows.columns else []))
    return keys.with_columns(pl.Series(REASONS, lists, dtype=pl.List(REASON_TYPE)))


def _top_positive(values: np.ndarray, limit: int, excluded: list[int]) -> list[int]:
    """Indices of the largest positive contributions (ties: model feature order), at most `limit`."""
    order = np.argsort(-values, kind="stable")
    return [int(j) for j in order if values[j] > 0 and j not in excluded][:limit]


def _trigger_map(triggers: Mapping[str, Sequence[str]] | pl.DataFrame | None) -> dict[str, list[str]]:
    if triggers is None:
        return {}
    if isinstance(triggers, pl.DataFrame):
        return {str(e): list(t or []) for e, t in triggers.select(ENTITY, "triggers").iter_rows()}
    return {str(e): list(t) for e, t in triggers.items()}


def _fired(rules: Mapping[str, RuleTrigger], features: Sequence[str]) -> list[RuleTrigger]:
    unknown = [f for f in features if f not in rules]
    if unknown:
        raise ValueError(f"triggers {unknown} are not rule triggers of the theme's policy")
    return [t for t in rules.values() if t.feature in features]  # in the policy's order


def _rule_reason(trigger: RuleTrigger, row: Mapping[str, Any], contributions: Contributions, i: int) -> Reason:
    names = contributions.feature_names
    contribution = float(contributions.values[i, names.index(trigger.feature)]) if trigger.feature in names else None
    return Reason(
        f"rule:{trigger.feature}",
        trigger.feature,
        trigger.reason_zh,
        trigger.reason_en,
        contribution,
        _number(row.get(trigger.feature)),
        None,
    )


def _peer_lookup(
    rows: pl.DataFrame, peers: pl.DataFrame, groups: Sequence[str], features: Sequence[str]
) -> list[dict[str, float | None]]:
    """Per row of `rows`, the peer medians of the features (missing when the row has no peer group)."""
    keys = [*groups, *([AS_OF] if AS_OF in rows.columns and AS_OF in peers.columns else [])]
    wanted = [f for f in features if f in peers.columns]
    renamed = peers.select(*keys, *(pl.col(f).alias(f"_peer_{k}") for k, f in enumerate(wanted)))
    joined = rows.select(*keys).with_row_index("_row").join(renamed, on=keys, how="left").sort("_row")
    return [{f: r[f"_peer_{k}"] for k, f in enumerate(wanted)} for r in joined.iter_rows(named=True)]


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    number = float(value)
    return None if math.isnan(number) else number


# ------------------------------------------------------------------------------------------------------ rendering
class _Renderer:
    """Turns (feature, value, peer median) into the zh/en sentences of one reason."""

    def __init__(self, columns: Mapping[str, FeatureColumn], peer_zh: str, peer_en: str) -> None:
        self.columns = columns
        self.peer_zh = peer_zh
        self.peer_en = peer_en

    def reason(self, feature: str, raw: Any, median: float | None, contribution: float) -> Reason:
        column = self.columns.get(feature) or FeatureColumn(feature, feature, feature)
        value = _number(raw)
        if column.kind == "category":
            zh, en = _category(feature, column, raw)
        elif value is None:
            zh, en = f"{column.label_zh}：无记录", f"{column.label_en}: no record"
        else:
            fmt = _Format(feature, column)
            zh, en = fmt.statement(value)
            if median is not None and column.kind in _PEER_KINDS and "中位数" not in column.label_zh:
                peer_zh, peer_en = self._peer_clause(fmt, fmt.transform(value), fmt.transform(median))
                zh, en = zh + peer_zh, en + peer_en
        return Reason(
            f"model:{feature}",
            feature,
            zh,
            en,
            float(contribution),
            value,
            None if median is None else float(median),
        )

    def _peer_clause(self, fmt: _Format, value: float, median: float) -> tuple[str, str]:
        """The comparison with the peer median (both on the feature's display scale)."""
        if median == 0:
            if value > 0:
                return f"，{self.peer_zh}至少半数企业为0", f", while at least half of {self.peer_en} have 0"
            if value == 0:
                return f"，{self.peer_zh}至少半数企业同样为0", f", as do at least half of {self.peer_en}"
        elif median > 0 and value >= 0:
            ratio = value / median
            if ratio >= 1.1 and fmt.kind != "ratio":  # "5.2 times the median" only for quantities, not for ratios
                return (
                    f"，为{self.peer_zh}中位数的{_times(ratio)}倍",
                    f", {_times(ratio)}× the median of {self.peer_en}",
                )
            if ratio >= 1.1 or ratio <= 0.9:
                zh, en = ("高于", "above") if ratio > 1 else ("低于", "below")
                return (
                    f"，{zh}{self.peer_zh}中位数（{fmt.amount_zh(median)}）",
                    f", {en} the median of {self.peer_en} ({fmt.amount_en(median)})",
                )
            return (
                f"，与{self.peer_zh}中位数（{fmt.amount_zh(median)}）相当",
                f", about the median of {self.peer_en} ({fmt.amount_en(median)})",
            )
        return (
            f"，{self.peer_zh}中位数为{fmt.amount_zh(median)}",
            f"; the median of {self.peer_en} is {fmt.amount_en(median)}",
        )


def _category(feature: str, column: FeatureColumn, raw: Any) -> tuple[str, str]:
    base = feature.split("__")[-1]
    label = column.label_zh.removesuffix("板块")
    label = label if label.startswith("所属") else f"所属{label}"
    if raw is None:
        return f"{label}未登记", f"{column.label_en}: not recorded"
    shown = CATEGORY_VALUES.get(base, {}).get(str(raw), str(raw))
    return f"{label}为{shown}", f"{column.label_en}: {str(raw).replace('_', ' ')}"


def _times(ratio: float) -> str:
    """A multiple with one decimal ("5.2", "7", "0.4"), whole numbers from 100 on."""
    return f"{ratio:.1f}".removesuffix(".0") if ratio < 100 else f"{ratio:,.0f}"


def _plain(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"


class _Format:
    """Formats a feature's values by its kind and label (both languages)."""

    def __init__(self, feature: str, column: FeatureColumn) -> None:
        self.column = column
        self.label, self.label_en = _with_window(column)
        self.log = "__log_" in feature  # log1p-transformed numbers are shown back on their own scale
        self.kind = "amount" if self.log else column.kind
        self.multiple = column.kind == "ratio" and self.label.endswith(("倍数", "之比"))
        self.signed = column.kind == "ratio" and ("增长" in self.label or "趋势" in self.label)
        self.unit = _count_unit(self.label) if self.kind == "count" else ("", "")

    def transform(self, value: float) -> float:
        return math.expm1(value) if self.log else value

    def statement(self, raw: float) -> tuple[str, str]:
        value = self.transform(raw)
        label_en = self.label_en.removeprefix("log1p of ")
        if self.kind == "count":
            return f"{self.unit[0]}{self.amount_zh(value)}", f"{label_en}: {self.amount_en(value)}"
        if self.kind == "days" and self.label.endswith("天数"):
            return f"{self.label[:-2]}{self.amount_zh(value)}", f"{label_en}: {self.amount_en(value)}"
        if self.kind == "flag":
            return f"{self.label}：{'是' if value >= 0.5 else '否'}", f"{label_en}: {'yes' if value >= 0.5 else 'no'}"
        if self.multiple:
            return _multiple_zh(self.label, value), f"{label_en}: {_times(value)}×"
        label = self.label.replace("(对数)", "")
        return f"{label}为{self.amount_zh(value)}", f"{label_en}: {self.amount_en(value)}"

    def amount_zh(self, value: float) -> str:
        """The value with its unit, without the label (also used for peer medians)."""
        if self.kind == "count":
            return f"{round(value):d}{self.unit[1]}"
        if self.kind == "amount":
            return _yuan(value)
        if self.kind == "days":
            return f"{round(value):d}天"
        if self.kind == "ratio":
            if self.multiple:
                return f"{_times(value)}倍"
            return f"{value * 100:+.0f}%" if self.signed else f"{value * 100:.0f}%"
        if self.kind == "flag":
            return "是" if value >= 0.5 else "否"
        return f"{_plain(value)}岁" if self.label.endswith("年龄") else _plain(value)

    def amount_en(self, value: float) -> str:
        if self.kind == "count":
            return f"{round(value):,d}"
        if self.kind == "amount":
            return f"{value:,.0f} yuan"
        if self.kind == "days":
            return f"{round(value):,d} days"
        if self.kind == "ratio":
            if self.multiple:
                return f"{_times(value)}×"
            return f"{value * 100:+.0f}%" if self.signed else f"{value * 100:.0f}%"
        if self.kind == "flag":
            return "yes" if value >= 0.5 else "no"
        return _plain(value)


def _with_window(column: FeatureColumn) -> tuple[str, str]:
    """The labels, with the look-back window in front (zh) / behind (en) when a windowed label does not say it."""
    zh, en = column.label_zh, column.label_en
    if column.window_days and not any(ch.isdigit() for ch in zh) and not any(w in zh for w in ("近", "最近", "一年")):
        zh = f"近{column.window_days}天{zh}"
    if column.window_days and not any(w in en for w in ("day", "month", "year")):
        en = f"{en}, {column.window_days} days"
    return zh, en


def _count_unit(label: str) -> tuple[str, str]:
    """(label without its trailing 数/次数, unit): 投诉 in 件, card transactions in 笔, changes and listings in 次."""
    if label.endswith("次数"):
        return label[:-2], "次"
    stem = label.removesuffix("数")
    if "投诉" in stem:
        return stem, "件"
    if any(word in stem for word in _TRANSACTION_WORDS):
        return stem, "笔"
    return (stem, "个") if stem != label else (f"{label}为", "")


def _multiple_zh(label: str, value: float) -> str:
    """'近30天投诉较前180天倍数' -> '近30天投诉为前180天的3.2倍'; '…中位数的倍数' -> '…中位数的3.2倍'."""
    times = f"{_times(value)}倍"
    if label.endswith("的倍数"):
        return f"{label[:-2]}{times}"
    for joint in ("较", "与"):
        if joint in label:
            subject, other = label.split(joint, 1)
            return f"{subject}为{other.removesuffix('倍数').removesuffix('之比')}的{times}"
    return f"{label}为{times}"


def _yuan(value: float) -> str:
    size = abs(value)
    if size >= 1e8:
        return f"{value / 1e8:.2f}亿元"
    if size >= 1e4:
        return f"{value / 1e4:.1f}万元"
    return f"{value:.0f}元"
