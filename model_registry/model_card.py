"""The model card: one Markdown page that tells a reviewer, an auditor or the next data scientist what a version is."""

from __future__ import annotations

from typing import Any

from risk_models.spec import EventLabel, OutcomeLabel, ThematicModelSpec
from risk_models.train_theme import TrainingResult

SELECTIVE_LABELS_NOTE = (
    "Selective labels: outcomes are only observed for what was recorded (and, for research outcomes, for firms that "
    "were warned and researched). Firms never looked at contribute no confirmed risk, and a warning that leads to "
    "intervention can prevent the very outcome it predicted, so measured precision understates the model on the "
    "firms it flags and says nothing about the firms it never flags."
)
ORACLE_NOTE = "oracle: the synthetic world's true hazard (an upper bound, only on synthetic data)"


def render_model_card(result: TrainingResult, version: int, registered_by: str, code_version: str) -> str:
    """Render the Markdown model card of a trained theme registered as `version`.

    Args:
        result: the training result (spec, scorer, evaluation, training frame).
        version: the registered model version number.
        registered_by: who registered the version.
        code_version: the code version (git commit or package version) that trained it.

    Returns:
        The card as Markdown text.
    """
    spec = result.spec
    sections = [
        _header(result, version, registered_by, code_version),
        _section("Purpose", [spec.purpose]),
        _section("Owner", [f"{spec.owner}. Feature owners are listed per block under Features."]),
        _section("Label", _label_lines(spec.label)),
        _section("Cohort", _cohort_lines(spec)),
        _section("Data window", _window_lines(result)),
        _section("Features", _feature_lines(result)),
        _section("Metrics", _metric_lines(result)),
        _section("Calibration", _calibration_lines(result)),
        _section("Model and explanations", _explanation_lines(result)),
        _section("Limitations", [f"- {_one_line(text)}" for text in (*spec.limitations, SELECTIVE_LABELS_NOTE)]),
        _section("Integrity", _integrity_lines(result)),
    ]
    return "\n".join(sections)


def _header(result: TrainingResult, version: int, registered_by: str, code_version: str) -> str:
    spec = result.spec
    return "\n".join(
        [
            f"# Model card — {spec.title_zh} / {spec.title_en}",
            "",
            f"Registered model `{spec.registered_model_name}`, version **{version}**, registered by {registered_by} "
            f"from code version `{code_version}`. Spec hash `{spec.spec_hash()}`, model sha256 "
            f"`{result.scorer.sha256}`.",
            "",
        ]
    )


def _section(title: str, lines: list[str]) -> str:
    return "\n".join([f"## {title}", "", *lines, ""])


def _label_lines(label: EventLabel | OutcomeLabel) -> list[str]:
    if isinstance(label, EventLabel):
        kinds = f"`{label.filter_column}` in {', '.join(label.filter_values)}" if label.filter_column else "any event"
        what = f"an event in table `{label.table}` ({kinds})"
    else:
        positive = ", ".join(label.positive_values)
        what = f"a research outcome in table `{label.table}` with `{label.result_column}` in {positive}"
    return [
        f"Positive when {what} happens within **{label.horizon_days} days** after the as-of date "
        f"(label kind `{label.kind}`).",
        f"As-of dates whose horizon plus {label.settle_days} settle days is not yet observed get no label "
        "(right-censored), never a negative.",
    ]


def _cohort_lines(spec: ThematicModelSpec) -> list[str]:
    cohort = spec.cohort
    filters = "; ".join(f"`{column}` in {list(values)}" for column, values in cohort.where) or "none"
    return [
        f"- entity: {spec.entity.label_zh} / {spec.entity.label_en} (table `{spec.entity.table}`)",
        f"- exists from `{cohort.start_column}` until `{cohort.end_column}`; at least {cohort.min_age_days} days old",
        f"- filters: {filters}",
    ]


def _window_lines(result: TrainingResult) -> list[str]:
    summary = result.summary()
    lines = [
        f"Training cutoff (nothing recorded after it was used): **{summary['cutoff']}**. Monthly as-of snapshots, "
        "split out of time:",
        "",
        "| split | as-of dates | first | last | rows | positives |",
        "|---|---|---|---|---|---|",
    ]
    for split in ("train", "valid", "test"):
        dates = summary["dates"][split]
        first, last = (dates[0], dates[-1]) if dates else ("-", "-")
        lines.append(
            f"| {split} | {len(dates)} | {first} | {last} | {summary['rows'][split]} | {summary['positives'][split]} |"
        )
    return lines


def _feature_lines(result: TrainingResult) -> list[str]:
    categorical = set(result.data.categorical)
    lines = [
        f"{len(result.scorer.feature_names)} features, selected by name at scoring. Categorical: "
        f"{', '.join(sorted(categorical)) or 'none'}.",
        "",
        "| block | owner | column | 中文 | English |",
        "|---|---|---|---|---|",
    ]
    for block in result.spec.blocks:
        for column in block.columns:
            lines.append(
                f"| {_cell(block.name)} | {_cell(block.owner)} | `{block.output_name(column.name)}` | "
                f"{_cell(column.label_zh)} | {_cell(column.label_en)} |"
            )
    return lines


def _metric_lines(result: TrainingResult) -> list[str]:
    evaluation = result.evaluation
    dates = evaluation.test_dates
    lines = [
        f"Test period {dates[0]} … {dates[-1]} ({len(dates)} as-of dates); the top **{evaluation.budget}** per date "
        "are warned (the review budget).",
        "",
        "| ranking | precision@budget | recall@budget | lift | AUC | PR-AUC |",
        "|---|---|---|---|---|---|",
    ]
    lines += [_metric_row(name, metrics) for name, metrics in evaluation.rankings.items()]
    if "oracle" in evaluation.rankings:
        lines += ["", f"_{ORACLE_NOTE}._"]
    return lines


def _metric_row(name: str, metrics: dict[str, float]) -> str:
    figures = [_number(metrics.get(key)) for key in ("precision", "recall", "lift", "auc", "pr_auc")]
    return f"| {name} | {' | '.join(figures)} |"


def _calibration_lines(result: TrainingResult) -> list[str]:
    calibration = result.scorer.calibration
    rows: list[dict[str, Any]] = result.evaluation.calibration
    lines = [f"Platt scaling on the validation period: p = sigmoid({calibration.a:.4f} · raw + {calibration.b:.4f})."]
    if not rows:
        return lines
    total = sum(r["n"] for r in rows)
    predicted = sum(r["predicted"] * r["n"] for r in rows) / total
    observed = sum(r["observed"] * r["n"] for r in rows) / total
    worst = max(abs(r["predicted"] - r["observed"]) for r in rows)
    lines += [
        f"On the test period: mean predicted {predicted:.4f} against observed {observed:.4f}; the largest gap in "
        f"{len(rows)} equal-count bins is {worst:.4f}.",
        "",
        "| predicted | observed | rows |",
        "|---|---|---|",
    ]
    lines += [f"| {r['predicted']:.4f} | {r['observed']:.4f} | {r['n']} |" for r in rows]
    return lines


COMPLEXITY_NOTE = (
    "Complexity is capped (leaves, depth) because every warned entity gets exact TreeSHAP contributions: "
    "benchmarks/bench_explain.py measures precision at the budget against explanation cost across leaves, depth and "
    "trees; the shipped defaults come from that table."
)


def _explanation_lines(result: TrainingResult) -> list[str]:
    """Model settings, the complexity choice, and the global explanation plots logged beside the card."""
    params = result.spec.model
    lines = [
        f"- LightGBM: {params.num_leaves} leaves, depth {params.max_depth}, learning rate {params.learning_rate}, "
        f"up to {params.num_boost_round} rounds with early stopping after {params.early_stopping_rounds}; "
        f"negative sampling rate {params.negative_sample_rate}; {params.num_threads} thread(s).",
        f"- {COMPLEXITY_NOTE}",
    ]
    plots = sorted(name for name, path in result.report.items() if name.startswith("explain_") and path.exists())
    if plots:
        lines.append(
            "- Global views on the test period (mean |contribution| by feature and by reason family, split "
            "by sector; beeswarm; dependence plots): "
            + ", ".join(f"`evaluation/{result.report[name].name}`" for name in plots)
        )
    return lines


def _integrity_lines(result: TrainingResult) -> list[str]:
    return [
        f"- model sha256 (model/model.txt): `{result.scorer.sha256}`",
        f"- spec hash: `{result.spec.spec_hash()}`",
        f"- training data sha256: `{result.data.content_sha256()}`",
        "- stored as native LightGBM text; verified against the registry before every load; no pickle.",
    ]


def _number(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"  # value != value: NaN


def _cell(text: str) -> str:
    """Keep user text from breaking a Markdown table row."""
    return _one_line(text).replace("|", "\\|")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
