"""Monitoring a theme over a window of published runs: gather, compute, write the report.

Reads only what already exists: each published run folder (`manifest.json`, `features.parquet` and `scores.parquet`
of every entity in the cohort, `warnings.parquet`), the training-time bins of the model version that scored it
(`evaluation/drift_reference.json`, verified against the hash recorded at registration) and the research results
in the review database. Writes `$RISKGEN_HOME/monitoring/<theme>/<from>_<to>/`: `report.html`, `summary.md` (the
alerts) and `monitoring.json` last, each file atomically. Published runs are never touched: they are write-once and
their manifest pins every file's sha256, so the alerts live in the monitoring folder, not in a run's summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from features.asof import ENTITY
from features.atomic import write_json_atomic, write_text_atomic
from features.loading import file_sha256
from model_registry.artifacts import sha256_bytes
from pipelines import settings
from pipelines.runs import MANIFEST, RunPaths, read_manifest
from risk_models.drift import SCORE, DriftReference, build_reference, distribution, population_psi, psi
from risk_models.monitoring import (
    Alert,
    RunOutcomes,
    Thresholds,
    confirmation_alerts,
    confirmation_by_tier,
    migration_matrix,
    psi_alerts,
    size_alerts,
    summarise_alerts,
    tier_allowances,
)
from risk_models.monitoring_report import MonitoringResult, RunFigures, alerts_markdown, render_report
from risk_models.spec import ThematicModelSpec
from risk_models.train_theme import DRIFT_REFERENCE_FILE

DEFAULT_DAYS = 90  # the window when --from is not given: the 90 days up to the last published run
REFERENCE_ARTIFACT = f"evaluation/{DRIFT_REFERENCE_FILE}"
COLUMN_CHUNK = 16  # feature columns read at a time (bounded memory at 1M entities)
PSI_CACHE_VERSION = 1  # bump when the PSI computation changes: cached values of older code are then ignored


@dataclass(frozen=True)
class MonitoringOutcome:
    theme: str
    start: date
    end: date
    folder: Path
    report: Path
    alerts: list[Alert]
    runs: int


def monitoring_dir(theme: str, start: date, end: date) -> Path:
    return settings.workspace() / "monitoring" / theme / f"{start.isoformat()}_{end.isoformat()}"


def window(paths: RunPaths, start: date | None, end: date | None) -> tuple[date, date, list[date]]:
    """The window's bounds (defaults: the last published run, 90 days back) and its published run dates."""
    published = paths.published_dates()
    last = end or (published[-1] if published else settings.business_date())
    first = start or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ValueError(f"--from {first} is after --to {last}")
    return first, last, [d for d in published if first <= d <= last]


class References:
    """Training references per model version, from the registry; a version without one falls back to a baseline
    run (the first run of the window it scored), named as such in the report."""

    def __init__(self, spec: ThematicModelSpec) -> None:
        self.spec = spec
        self.cache: dict[str, tuple[DriftReference, str, str]] = {}
        self.notes: list[tuple[str, str]] = []

    def get(self, version: str, run_dir: Path) -> tuple[DriftReference, str, str]:
        """(reference, what it is: "training" or the baseline run's date, a digest naming its content)."""
        if version not in self.cache:
            raw = self._registered(version)
            if raw is not None:
                self.cache[version] = (DriftReference.from_dict(json.loads(raw)), "training", sha256_bytes(raw))
            else:
                digest = "baseline:" + file_sha256(run_dir / MANIFEST)
                self.cache[version] = (self._baseline(run_dir), run_dir.name, digest)
                self.notes.append(
                    (
                        f"模型版本 {version} 未登记训练分布，PSI 以 {run_dir.name} 的运行为基准",
                        f"model version {version} has no registered training distribution; PSI is measured "
                        f"against the run of {run_dir.name} (retrain to record one)",
                    )
                )
        return self.cache[version]

    def _registered(self, version: str) -> bytes | None:
        from model_registry.errors import RegistryNotFound
        from model_registry.registry import Registry

        try:
            raw = Registry.open(settings.registry_uri()).artifact(self.spec.name, int(version), REFERENCE_ARTIFACT)
        except RegistryNotFound:
            return None
        return raw

    def _baseline(self, run_dir: Path) -> DriftReference:
        features = pl.read_parquet(run_dir / "features.parquet")
        names = [f for f in self.spec.feature_names if f in features.columns]
        categorical = [f for f in names if features.schema[f] == pl.String]
        scores = pl.read_parquet(run_dir / "scores.parquet", columns=["probability"])["probability"]
        return build_reference(features, names, categorical, scores, source={"baseline_run": run_dir.name})


def cached_run_psi(theme: str, reference: DriftReference, digest: str, run_dir: Path) -> dict[str, float]:
    """`run_psi`, remembered per (run, reference): a published run never changes, so neither does its PSI.

    The key is the run manifest's sha256 (which pins every file of the run) and the reference's digest.
    """
    key = sha256_bytes(f"{PSI_CACHE_VERSION}:{file_sha256(run_dir / MANIFEST)}:{digest}".encode())[:20]
    path = settings.workspace() / "monitoring" / theme / ".psi-cache" / f"{run_dir.name}-{key}.json"
    if path.exists():
        cached: dict[str, float] = json.loads(path.read_text(encoding="utf-8"))
        return cached
    result = run_psi(reference, run_dir)
    write_json_atomic(result, path)
    return result


def run_psi(reference: DriftReference, run_dir: Path) -> dict[str, float]:
    """PSI of every feature and of the score of one run (feature columns read a chunk at a time)."""
    present = set(pl.read_parquet_schema(run_dir / "features.parquet"))
    names = [f for f in reference.features if f in present]
    result: dict[str, float] = {}
    for i in range(0, len(names), COLUMN_CHUNK):
        chunk = pl.read_parquet(run_dir / "features.parquet", columns=names[i : i + COLUMN_CHUNK])
        result |= population_psi(reference, chunk, None)
    scores = pl.read_parquet(run_dir / "scores.parquet", columns=["probability"])["probability"]
    result[SCORE] = psi(reference.score.shares, distribution(scores, reference.score.binning).shares)
    return result


def listed_tiers(spec: ThematicModelSpec, run_dir: Path) -> tuple[dict[str, str], dict[str, int]]:
    """entity -> tier of the listed entities, and listed counts per group (sector)."""
    group = f"entity__{spec.entity.group_column}" if spec.entity.group_column else None
    columns = [ENTITY, "tier", *([group] if group else [])]
    warnings = pl.read_parquet(run_dir / "warnings.parquet", columns=columns).filter(pl.col("tier").is_not_null())
    tiers = dict(zip(warnings[ENTITY].to_list(), warnings["tier"].to_list(), strict=True))
    groups = dict(warnings.group_by(group).len().iter_rows()) if group else {}
    return tiers, {str(g or ""): int(n) for g, n in groups.items()}


def gather_runs(
    spec: ThematicModelSpec, paths: RunPaths, dates: list[date], limits: Thresholds
) -> tuple[list[RunFigures], list[Alert], list[tuple[str, str]]]:
    references = References(spec)
    labels = feature_labels(spec)
    tier_names = [t.name for t in spec.policy.tiers]
    earlier = paths.previous(dates[0]) if dates else None
    before = listed_tiers(spec, earlier)[0] if earlier else None
    runs, alerts = [], []
    for as_of in dates:
        folder = paths.final(as_of)
        manifest = read_manifest(folder)
        version = str(manifest["model"]["version"])
        reference, source, digest = references.get(version, folder)
        drift = cached_run_psi(spec.name, reference, digest, folder)
        score_psi = drift.pop(SCORE, None)
        tiers, groups = listed_tiers(spec, folder)
        by_tier = {t: sum(1 for v in tiers.values() if v == t) for t in tier_names}
        migration = migration_matrix(before, tiers, tier_names) if before is not None else None
        runs.append(
            RunFigures(
                as_of, version, int(manifest["counts"]["cohort"]), by_tier, drift, score_psi, groups, migration, source
            )
        )
        alerts += psi_alerts(as_of, drift, score_psi, limits, labels) + size_alerts(as_of, by_tier, spec.policy, limits)
        before = tiers
    return runs, alerts, references.notes


def gather_outcomes(theme: str, start: date, end: date) -> list[RunOutcomes]:
    """Research results of the window's pushed warnings, per run and tier, from the review database."""
    from review.db import connect
    from review.kpis import tier_dispositions

    rows: dict[date, list[tuple[str, str]]] = {}
    for as_of, tier, status in tier_dispositions(connect(settings.review_db_url()), theme, start, end):
        rows.setdefault(as_of, []).append((tier, status))
    return [RunOutcomes(d, confirmation_by_tier(r)) for d, r in sorted(rows.items())]


def expected_precision(theme: str, version: str | None) -> float | None:
    """The model version's precision at the budget on its test period (the confirmation rate to expect)."""
    from model_registry.errors import ModelNotFound, RegistryNotFound
    from model_registry.registry import Registry

    if version is None:
        return None
    try:
        return Registry.open(settings.registry_uri()).version(theme, int(version)).precision
    except (ModelNotFound, RegistryNotFound):
        return None


def feature_labels(spec: ThematicModelSpec) -> dict[str, tuple[str, str]]:
    return {b.output_name(c.name): (c.label_zh, c.label_en) for b in spec.blocks for c in b.columns}


def monitor_theme(
    spec: ThematicModelSpec, start: date | None = None, end: date | None = None, limits: Thresholds | None = None
) -> MonitoringOutcome:
    """Compute the monitoring figures and alerts of a theme's runs in [start, end] and write the report."""
    limits = limits or Thresholds()
    paths = RunPaths(settings.workspace() / "runs", spec.name)
    first, last, dates = window(paths, start, end)
    runs, alerts, notes = gather_runs(spec, paths, dates, limits)
    outcomes = gather_outcomes(spec.name, first, last)
    expected = expected_precision(spec.name, runs[-1].model_version if runs else None)
    tiers = tuple(t.name for t in spec.policy.tiers)
    alerts += confirmation_alerts(outcomes, tiers, expected, limits)
    if not runs:
        notes.append((f"{first} – {last} 没有已发布的运行", f"no published run between {first} and {last}"))
    result = MonitoringResult(
        spec.name,
        (spec.title_zh, spec.title_en),
        first,
        last,
        spec.policy.budget_per_run,
        tiers,
        tier_allowances(spec.policy),
        runs,
        outcomes,
        summarise_alerts(alerts),
        limits,
        expected,
        feature_labels(spec),
        notes,
    )
    folder = write_monitoring(result)
    return MonitoringOutcome(spec.name, first, last, folder, folder / "report.html", result.alerts, len(runs))


def write_monitoring(result: MonitoringResult) -> Path:
    """report.html and summary.md, then monitoring.json (figures, alerts, the others' sha256) last."""
    folder = monitoring_dir(result.theme, result.start, result.end)
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    report = write_text_atomic(render_report(result, generated), folder / "report.html")
    summary = write_text_atomic(alerts_markdown(result, str(report)), folder / "summary.md")
    files: dict[str, Any] = {p.name: file_sha256(p) for p in (report, summary)}
    write_json_atomic(result.to_dict() | {"generated_at": generated, "files": files}, folder / "monitoring.json")
    return folder
