"""Plain records the registry hands out: versions, promotions and loaded models (no MLflow types leak out)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from risk_models.scorer import Scorer

if TYPE_CHECKING:  # only for the annotation: the registry never builds a booster before verification
    import lightgbm as lgb

CHAMPION = "champion"
MODEL_DIR = "model"
MODEL_FILE = "model.txt"
SCORER_FILE = "scorer.json"
SHA_FILE = "model.sha256"
SPEC_FILE = "spec.json"
FEATURES_FILE = "features.json"
EVALUATION_DIR = "evaluation"
CARD_FILE = "model_card.md"


class Tag:
    """Tag keys on runs and model versions (plain names, so the review app and auditors can read them)."""

    THEME = "theme"
    SPEC_HASH = "spec_hash"
    MODEL_SHA256 = "model_sha256"
    TRAINING_DATA_SHA256 = "training_data_sha256"
    CODE_VERSION = "code_version"
    INPUTS_SHA256 = "inputs_sha256"
    ARTIFACTS_SHA256 = "artifacts_sha256"
    REGISTERED_BY = "registered_by"
    CUTOFF = "cutoff"
    TEST_DATES = "test_dates"
    BUDGET = "budget"
    PROMOTED_BY = "promoted_by"
    PROMOTED_WHY = "promoted_why"
    PROMOTED_AT = "promoted_at"
    PREVIOUS_CHAMPION = "previous_champion"
    FORCED = "promotion_forced"


def precision_metric(ranking: str = "model") -> str:
    """Metric key of a ranking's precision at the review budget on the test period."""
    return f"test.{ranking}.precision_at_budget"


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered version of a theme's model, with its run's metrics and its aliases."""

    theme: str
    version: int
    run_id: str
    created: datetime
    tags: dict[str, str]
    metrics: dict[str, float]
    aliases: tuple[str, ...] = ()
    source: str = ""

    @property
    def model_sha256(self) -> str:
        return self.tags.get(Tag.MODEL_SHA256, "")

    @property
    def spec_hash(self) -> str:
        return self.tags.get(Tag.SPEC_HASH, "")

    @property
    def is_champion(self) -> bool:
        return CHAMPION in self.aliases

    @property
    def test_dates(self) -> list[str]:
        return list(json.loads(self.tags.get(Tag.TEST_DATES, "[]")))

    @property
    def precision(self) -> float | None:
        """The model's precision at the review budget on the test dates, when recorded."""
        return self.metrics.get(precision_metric())


@dataclass(frozen=True)
class PromotionRecord:
    """Who made which version champion, when, why, over which previous champion, and on what evidence."""

    theme: str
    version: int
    previous_champion: int | None
    who: str
    why: str
    at: str
    forced: bool
    candidate_precision: float | None
    champion_precision: float | None
    comparable: bool
    budget: str = ""
    test_dates: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LoadedModel:
    """A verified model version: the scorer, the booster built from verified text, the spec and features as data."""

    scorer: Scorer
    booster: lgb.Booster
    spec: dict[str, Any]
    features: dict[str, Any]
    version: ModelVersionInfo

    @property
    def model_sha256(self) -> str:
        return self.scorer.sha256
