"""What one registration records: the artifact folder (staged locally, hashed file by file), params, metrics, tags.

Everything is text (LightGBM model text, JSON, Markdown, the report's PNGs). Nothing is pickled: MLflow's pyfunc and
lightgbm flavors pickle or cloudpickle, so they are not used.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from model_registry.records import (
    EVALUATION_DIR,
    FEATURES_FILE,
    MODEL_DIR,
    MODEL_FILE,
    SCORER_FILE,
    SHA_FILE,
    SPEC_FILE,
    Tag,
)
from risk_models.scorer import metadata_json
from risk_models.train_theme import TrainingResult

RANKING_METRICS = {
    "precision": "precision_at_budget",
    "recall": "recall_at_budget",
    "lift": "lift_at_budget",
    "base_rate": "base_rate",
    "auc": "auc",
    "pr_auc": "pr_auc",
}
MAX_RUN_TAG_LENGTH = 8000  # MLflow's limit on run tag values (model version tags allow far more)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def to_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, Chinese kept readable) for artifacts and tags."""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n"


def stage_artifacts(result: TrainingResult, folder: Path, model_card: str) -> dict[str, str]:
    """Write the run's artifact tree into `folder` and return {relative path: sha256} of every file written.

    Layout: model/model.txt, model/scorer.json, model/model.sha256, spec.json, features.json, evaluation/…,
    model_card.md.
    """
    model_dir = folder / MODEL_DIR
    model_dir.mkdir(parents=True)
    # Bytes, not text mode: the sha256 recorded is of exactly these bytes, on every platform.
    (model_dir / MODEL_FILE).write_bytes(result.scorer.model_text.encode("utf-8"))
    (model_dir / SCORER_FILE).write_bytes(metadata_json(result.scorer).encode("utf-8"))
    (model_dir / SHA_FILE).write_bytes(f"{result.scorer.sha256}  {MODEL_FILE}\n".encode())
    (folder / SPEC_FILE).write_bytes(to_json(result.spec.to_dict()).encode("utf-8"))
    (folder / FEATURES_FILE).write_bytes(to_json(features_document(result)).encode("utf-8"))
    evaluation_dir = folder / EVALUATION_DIR
    evaluation_dir.mkdir()
    for path in sorted(result.report.values()):
        if not path.is_file():
            raise FileNotFoundError(f"evaluation report file {path} is missing; rerun the training")
        shutil.copyfile(path, evaluation_dir / path.name)
    (folder / "model_card.md").write_bytes(model_card.encode("utf-8"))
    return {
        path.relative_to(folder).as_posix(): sha256_bytes(path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def features_document(result: TrainingResult) -> dict[str, Any]:
    """Feature names in model order, which are categorical, and each block's owner and column labels."""
    return {
        "feature_names": list(result.scorer.feature_names),
        "categorical": list(result.data.categorical),
        "blocks": [
            {
                "name": block.name,
                "owner": block.owner,
                "description": block.description,
                "columns": [{"feature": block.output_name(c.name)} | asdict(c) for c in block.columns],
            }
            for block in result.spec.blocks
        ],
    }


def run_params(result: TrainingResult) -> dict[str, str]:
    """Model parameters and the training window, as MLflow params (strings)."""
    spec = result.spec
    params: dict[str, Any] = asdict(spec.model) | {
        "cutoff": result.data.cutoff.isoformat(),
        "budget_per_run": spec.policy.budget_per_run,
        "horizon_days": spec.label.horizon_days,
        "label_table": spec.label.table,
        "feature_count": len(result.scorer.feature_names),
    }
    return {key: str(value) for key, value in params.items()}


def run_metrics(result: TrainingResult) -> dict[str, float]:
    """Test-period metrics of the model, its baselines and (on synthetic data) the oracle; NaN ones are left out."""
    metrics = {}
    for ranking, figures in result.evaluation.rankings.items():
        for key, name in RANKING_METRICS.items():
            value = figures.get(key)
            if value is not None and math.isfinite(float(value)):
                metrics[f"test.{ranking}.{name}"] = float(value)
    return metrics


def registration_tags(
    result: TrainingResult,
    input_sha256: dict[str, str],
    code_version: str,
    registered_by: str,
    artifacts: dict[str, str],
) -> dict[str, str]:
    """Tags set on both the run and the model version: what made the model and the hash of every artifact."""
    tags = {
        Tag.THEME: result.spec.name,
        Tag.SPEC_HASH: result.spec.spec_hash(),
        Tag.MODEL_SHA256: result.scorer.sha256,
        Tag.TRAINING_DATA_SHA256: result.data.content_sha256(),
        Tag.CODE_VERSION: code_version,
        Tag.INPUTS_SHA256: json.dumps(dict(sorted(input_sha256.items())), ensure_ascii=False),
        Tag.ARTIFACTS_SHA256: json.dumps(artifacts, sort_keys=True),
        Tag.REGISTERED_BY: registered_by,
        Tag.CUTOFF: result.data.cutoff.isoformat(),
        Tag.TEST_DATES: json.dumps(result.evaluation.test_dates),
        Tag.BUDGET: str(result.evaluation.budget),
    }
    too_long = [key for key, value in tags.items() if len(value) > MAX_RUN_TAG_LENGTH]
    if too_long:
        raise ValueError(f"tag values too long for an MLflow run ({MAX_RUN_TAG_LENGTH} characters): {too_long}")
    return tags
