"""Thematic model specs: a whole risk model declared as one frozen, hashable Python object.

A data scientist copies a template (`riskgen theme new NAME --like prepaid_cards`), changes the declarations, and
riskgen does the rest. `spec_hash()` covers behaviour, including the source of every block, so a model version
names exactly what produced it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from features.blocks.base import FeatureBlock
from features.contracts import TableContract


@dataclass(frozen=True)
class Entity:
    """What is scored: the entity table and how people call one of them."""

    table: str
    label_zh: str = "企业"
    label_en: str = "enterprise"
    name_column: str | None = "name"
    area_column: str | None = "town"
    group_column: str | None = "sector"


@dataclass(frozen=True)
class Cohort:
    """Who is scored as of t: entities registered by t and not ended by t, optionally filtered by column values.

    Attributes:
        where: (column, allowed values) filters on the entity table.
        start_column: the entity exists from this date (e.g. registration).
        end_column: the entity no longer exists from this date (e.g. deregistration); null means still there.
        min_age_days: entities younger than this are not scored (too little history to judge).
        ended_by: an outcome table (e.g. closures): an entity whose outcome was recorded by t has already ended
            and is no longer scored.
    """

    where: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    start_column: str | None = "registered_at"
    end_column: str | None = "deregistered_at"
    min_age_days: int = 0
    ended_by: str | None = None


@dataclass(frozen=True)
class EventLabel:
    """Positive when an event of the given kinds happens within `horizon_days` after t.

    Attributes:
        table: the outcome event table (e.g. closures).
        horizon_days: how far after t the outcome counts.
        filter_column, filter_values: which events count (all when no filter).
        settle_days: how long after the horizon recording may still lag; as-of dates whose horizon plus this margin
            is not yet observed get no label (right-censoring) instead of a false negative.
        recurrent: the outcome can happen again (an incident); when false it is terminal (a closure) and an entity
            whose outcome already happened by t leaves the training rows.
    """

    table: str
    horizon_days: int
    filter_column: str | None = None
    filter_values: tuple[str, ...] = ()
    settle_days: int = 60
    recurrent: bool = False
    kind: str = "event"


@dataclass(frozen=True)
class OutcomeLabel:
    """Positive when research (研判) of the entity within the horizon confirmed a risk; unresearched rows get no label.

    Selective labels: only warned and researched entities have outcomes, and a warning can prevent what it predicts.
    """

    table: str
    horizon_days: int
    result_column: str = "result"
    positive_values: tuple[str, ...] = ("confirmed",)
    date_column: str = "decided_at"
    settle_days: int = 0
    kind: str = "outcome"


@dataclass(frozen=True)
class ModelParams:
    """LightGBM and training settings. Defaults chosen from the complexity/explanation-cost measurement."""

    num_leaves: int = 15
    max_depth: int = 6
    learning_rate: float = 0.05
    num_boost_round: int = 400
    early_stopping_rounds: int = 40
    min_data_in_leaf: int = 50
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    negative_sample_rate: float = 1.0  # < 1 keeps that share of negatives and re-weights them
    num_threads: int = 1  # measured: 1 thread beats 2 on two shared cores
    seed: int = 7
    snapshot_months: int = 0  # 0: every month-end from the first usable date
    valid_months: int = 3
    test_months: int = 4


@dataclass(frozen=True)
class Tier:
    """A warning tier: the top `share` of the budget (by rank) or calibrated probability at least `min_probability`."""

    name: str
    label_zh: str
    share: float
    min_probability: float = 1.0


@dataclass(frozen=True)
class RuleTrigger:
    """A rule that puts an entity on the list whatever its score, with a reason of its own."""

    feature: str
    op: str
    value: float
    tier: str
    reason_zh: str
    reason_en: str


@dataclass(frozen=True)
class WarningPolicy:
    """How scores become a warning list staff can work through."""

    budget_per_run: int = 100
    budget_per_area: int | None = None
    tiers: tuple[Tier, ...] = (
        Tier("red", "红", 0.2, 0.5),
        Tier("orange", "橙", 0.5, 0.3),
        Tier("yellow", "黄", 1.0, 0.0),
    )
    triggers: tuple[RuleTrigger, ...] = ()
    cooldown_runs: int = 2
    rule_baseline_feature: str | None = None


@dataclass(frozen=True)
class ThematicModelSpec:
    """The declaration of one thematic risk model."""

    name: str
    title_zh: str
    title_en: str
    owner: str
    purpose: str
    entity: Entity
    tables: tuple[str, ...]
    cohort: Cohort
    label: EventLabel | OutcomeLabel
    blocks: tuple[FeatureBlock, ...]
    model: ModelParams = field(default_factory=ModelParams)
    policy: WarningPolicy = field(default_factory=WarningPolicy)
    contracts: tuple[TableContract, ...] = ()
    history_start: str = "2023-01-01"
    limitations: tuple[str, ...] = ()
    synthetic_world: str | None = None  # "module:function" generating a demo world for this theme
    synthetic_kwargs: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"theme name {self.name!r} must be a Python identifier (letters, digits, _)")
        needed = {t for b in self.blocks for t in b.tables} | {self.entity.table, self.label.table}
        missing = sorted(needed - set(self.tables))
        if missing:
            raise ValueError(f"theme {self.name!r}: blocks or label read tables not listed in `tables`: {missing}")

    @property
    def feature_names(self) -> list[str]:
        return [name for block in self.blocks for name in block.output_columns]

    @property
    def registered_model_name(self) -> str:
        return f"riskgen.{self.name}"

    def to_dict(self) -> dict[str, Any]:
        """Everything declared, as plain data (blocks by name, parameters and fingerprint)."""
        return {
            "name": self.name,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "owner": self.owner,
            "purpose": self.purpose,
            "entity": asdict(self.entity),
            "tables": list(self.tables),
            "cohort": asdict(self.cohort),
            "label": asdict(self.label),
            "blocks": [_block_dict(b) for b in self.blocks],
            "model": asdict(self.model),
            "policy": asdict(self.policy),
            "contracts": [c.name for c in self.contracts],
            "history_start": self.history_start,
            "limitations": list(self.limitations),
            "synthetic_world": self.synthetic_world,
        }

    def spec_hash(self) -> str:
        """Stable hash of the declaration and the code of its blocks (short hex)."""
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _block_dict(block: FeatureBlock) -> dict[str, Any]:
    return {
        "name": block.name,
        "owner": block.owner,
        "params": {k: repr(v) for k, v in block.params},
        "columns": [c.name for c in block.columns],
        "fingerprint": block.fingerprint(),
    }
