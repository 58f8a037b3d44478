"""`riskgen theme check`: train a small model of a theme and say, in plain words, what looks wrong."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import polars as pl

from features.contracts import registered_contracts
from features.store import TableStore
from risk_models.spec import ThematicModelSpec
from risk_models.train_theme import Progress, TrainingResult, train_theme

MIN_POSITIVES = 20
MOSTLY_EMPTY = 0.99


@dataclass(frozen=True)
class Finding:
    level: Literal["ok", "warning", "problem"]
    message: str


def check_tables(spec: ThematicModelSpec, store: TableStore) -> list[Finding]:
    contracts = registered_contracts()
    findings = [
        Finding("problem", f"table {t!r} has no contract: declare a TableContract and register it")
        for t in spec.tables
        if t not in contracts
    ]
    findings += [
        Finding("problem", f"table {t!r} is missing from the data folder") for t in spec.tables if t not in store.frames
    ]
    return findings


def check_training(result: TrainingResult) -> list[Finding]:
    """Plain-word findings about labels, features and the model's usefulness at the budget."""
    findings: list[Finding] = []
    for split in ("train", "valid", "test"):
        positives = int(result.data.part(split)["label"].sum())
        level: Literal["ok", "warning"] = "warning" if positives < MIN_POSITIVES else "ok"
        findings.append(
            Finding(
                level,
                f"{split}: {result.data.part(split).height:,} rows, {positives} positives"
                + (" — too few to judge; use a longer history or a wider label" if level != "ok" else ""),
            )
        )
    findings += _empty_features(result.data.frame, result.data.feature_names)
    model, rule = result.evaluation.rankings["model"], result.evaluation.rankings.get("rule")
    budget = result.spec.policy.budget_per_run
    findings.append(
        Finding(
            "ok" if model["lift"] > 2 else "problem",
            f"model precision at the budget of {budget}: {model['precision']:.1%} "
            f"(lift {model['lift']:.1f} over the base rate {model['base_rate']:.2%})",
        )
    )
    if rule is not None and model["precision"] < rule["precision"]:
        findings.append(
            Finding(
                "problem",
                f"the model ({model['precision']:.1%}) does worse than its rule baseline "
                f"({rule['precision']:.1%}) at the budget",
            )
        )
    return findings


def _empty_features(frame: pl.DataFrame, features: list[str]) -> list[Finding]:
    findings = []
    for name in features:
        column = frame[name]
        if column.null_count() >= MOSTLY_EMPTY * frame.height:
            findings.append(
                Finding(
                    "warning",
                    f"feature {name} is empty for {column.null_count() / frame.height:.0%}"
                    " of rows: its table may lack data for this cohort",
                )
            )
        elif column.n_unique() == 1:
            findings.append(Finding("warning", f"feature {name} never varies (always {column[0]}): it cannot help"))
    return findings


def check_theme(
    spec: ThematicModelSpec, store: TableStore, cutoff: date, work_dir: Path, progress: Progress | None = None
) -> list[Finding]:
    """Table checks, then a full small training run and its findings."""
    findings = check_tables(spec, store)
    if any(f.level == "problem" for f in findings):
        return findings
    try:
        result = train_theme(spec, store, cutoff, work_dir / "report", None, progress)
    except ValueError as exc:
        return [*findings, Finding("problem", f"training failed: {exc}")]
    return [*findings, *check_training(result)]
