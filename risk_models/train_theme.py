"""One call from a theme spec and validated tables to a calibrated scorer and its evaluation report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from features.atomic import write_json_atomic
from features.store import TableStore
from risk_models.baselines import RuleBaseline, WoeScorecard, fit_woe_scorecard
from risk_models.dataset import TrainingFrame, build_training_frame
from risk_models.drift import build_reference
from risk_models.evaluation import Evaluation, evaluate, write_report
from risk_models.labels import LABEL
from risk_models.scorer import Scorer
from risk_models.spec import ThematicModelSpec
from risk_models.training import train_scorer

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingResult:
    """A trained theme: the scorer, how it was made and how well it ranks."""

    spec: ThematicModelSpec
    scorer: Scorer
    evaluation: Evaluation
    data: TrainingFrame
    report: dict[str, Path]

    def summary(self) -> dict[str, Any]:
        counts = {s: self.data.part(s).height for s in ("train", "valid", "test")}
        positives = {s: int(self.data.part(s)[LABEL].sum()) for s in ("train", "valid", "test")}
        return {
            "theme": self.spec.name,
            "spec_hash": self.spec.spec_hash(),
            "cutoff": self.data.cutoff.isoformat(),
            "rows": counts,
            "positives": positives,
            "dates": {s: [d.isoformat() for d in self.data.dates(s)] for s in ("train", "valid", "test")},
            "training_data_sha256": self.data.content_sha256(),
            "model_sha256": self.scorer.sha256,
        }


def train_theme(
    spec: ThematicModelSpec,
    store: TableStore,
    cutoff: date,
    report_dir: Path,
    hazard_file: Path | None = None,
    progress: Progress | None = None,
) -> TrainingResult:
    """Build snapshots, train and calibrate the model, fit the baselines and write the evaluation report."""
    say = progress or (lambda _message: None)
    say(f"[{spec.name}] building monthly snapshots up to {cutoff}")
    data = build_training_frame(spec, store, cutoff)
    say(f"[{spec.name}] {data.frame.height:,} labelled rows × {len(data.feature_names)} features")
    scorer = train_scorer(data, spec.model, say)
    baselines = fit_baselines(spec, data)
    evaluation = evaluate(
        spec.name,
        data,
        scorer,
        baselines,
        spec.policy.budget_per_run,
        spec.label.horizon_days,
        hazard_file,
        groups=tuple(g for g in (spec.entity.group_column, spec.entity.area_column) if g),
    )
    report = write_report(evaluation, report_dir)
    report |= explain_test_period(spec, data, scorer, report_dir / "explanations")
    report["drift_reference"] = write_drift_reference(spec, data, scorer, report_dir / DRIFT_REFERENCE_FILE)
    for name, metrics in evaluation.rankings.items():
        say(
            f"[{spec.name}] {name:<10} precision@{spec.policy.budget_per_run} {metrics['precision']:.3f}  "
            f"AUC {metrics['auc']:.3f}"
        )
    return TrainingResult(spec, scorer, evaluation, data, report)


EXPLAIN_ROWS = 5000
DRIFT_REFERENCE_FILE = "drift_reference.json"
DRIFT_REFERENCE_SPLIT = "train"  # the rows the model learned from
DRIFT_REFERENCE_ROWS = 200_000  # a seeded sample beyond this: decile edges and shares are stable long before


def write_drift_reference(spec: ThematicModelSpec, data: TrainingFrame, scorer: Scorer, path: Path) -> Path:
    """Training-time bins and shares of every feature and of the score, for monitoring (PSI) of later runs.

    Registered with the model version (it is a report file, so it lands under `evaluation/` with its sha256).
    """
    rows = data.part(DRIFT_REFERENCE_SPLIT)
    if rows.height > DRIFT_REFERENCE_ROWS:
        rows = rows.sample(n=DRIFT_REFERENCE_ROWS, seed=spec.model.seed)
    scores = pl.Series("probability", scorer.probability(rows), dtype=pl.Float64)
    source = {
        "split": DRIFT_REFERENCE_SPLIT,
        "dates": [d.isoformat() for d in data.dates(DRIFT_REFERENCE_SPLIT)],
        "rows": rows.height,
        "model_sha256": scorer.sha256,
        "spec_hash": spec.spec_hash(),
    }
    reference = build_reference(rows, data.feature_names, data.categorical, scores, source=source)
    return write_json_atomic(reference.to_dict(), path)


def explain_test_period(spec: ThematicModelSpec, data: TrainingFrame, scorer: Scorer, folder: Path) -> dict[str, Path]:
    """Global views of the model version: contributions on (a seeded sample of) the test period, split by group."""
    from risk_models.explain import contributions
    from risk_models.global_views import write_global_views

    test = data.part("test")
    rows = test.sample(n=min(EXPLAIN_ROWS, test.height), seed=spec.model.seed) if test.height else test
    group = next((f for f in data.categorical if f.endswith(f"__{spec.entity.group_column}")), None)
    views = write_global_views(spec, contributions(scorer, rows), rows, folder, group_column=group)
    return {f"explain_{name}": path for name, path in views.items()}


def fit_baselines(spec: ThematicModelSpec, data: TrainingFrame) -> dict[str, RuleBaseline | WoeScorecard]:
    """The rule baseline named by the policy and a WoE scorecard over the numeric features."""
    numeric = [f for f in data.feature_names if f not in data.categorical]
    baselines: dict[str, RuleBaseline | WoeScorecard] = {"scorecard": fit_woe_scorecard(data.part("train"), numeric)}
    if spec.policy.rule_baseline_feature:
        baselines["rule"] = RuleBaseline(spec.policy.rule_baseline_feature)
    return baselines
