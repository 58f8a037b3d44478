"""The model registry against a real MLflow SQLite registry: M1, M3, M4, M6, M8, M11, promotion rules, model card.

One small world is generated and one model trained per module; each test registers under its own theme name so tests
share one registry without sharing champions.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import multiprocessing
import pickle
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import lightgbm
import numpy as np
import pytest
from registry_workers import payload, promote_worker

from features.dataset_validation import validate_dataset
from features.store import TableStore
from features.synthetic import generate_world
from model_registry.errors import (
    ModelIntegrityError,
    ModelNotFound,
    NotARiskgenRegistry,
    PromotionConflict,
    PromotionRefused,
    RegistryNotFound,
    UnsupportedRegistry,
)
from model_registry.model_card import render_model_card
from model_registry.records import Tag, precision_metric
from model_registry.registry import Registry
from risk_models.themes.prepaid_cards import SPEC
from risk_models.train_theme import TrainingResult, train_theme

AS_OF = date(2026, 6, 30)
SMALL_SPEC = dataclasses.replace(
    SPEC,
    model=dataclasses.replace(SPEC.model, num_boost_round=60),
    policy=dataclasses.replace(SPEC.policy, budget_per_run=20),
)


@dataclass(frozen=True)
class World:
    store: TableStore
    hazard: Path
    root: Path
    inputs: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("world")
    generate_world(root / "raw", n_enterprises=1500, progress=False)
    validate_dataset(root / "raw", root / "validated", as_of=AS_OF, run_gx=False)
    accepted = root / "validated" / "accepted"
    inputs = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(accepted.glob("*.parquet"))}
    return World(TableStore.from_folder(accepted), root / "raw" / "true_hazard.parquet", root, inputs)


@pytest.fixture(scope="module")
def trained(world: World) -> TrainingResult:
    return train_theme(SMALL_SPEC, world.store, AS_OF, world.root / "report", world.hazard)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return Registry.open(f"sqlite:///{tmp_path_factory.mktemp('registry') / 'mlflow.db'}", create=True)


def as_theme(result: TrainingResult, theme: str) -> TrainingResult:
    """The same training under another theme name, so each test has its own model and champion."""
    return dataclasses.replace(result, spec=dataclasses.replace(result.spec, name=theme))


def register(registry: Registry, result: TrainingResult, world: World | None = None) -> int:
    inputs = world.inputs if world else {"enterprises.parquet": "0" * 64}
    info = registry.register(result, input_sha256=inputs, code_version="test", registered_by="tester")
    return info.version


def artifact_dir(registry: Registry, theme: str, version: int) -> Path:
    """Where the version's run artifacts sit in the artifact store (to tamper with them, as an attacker would)."""
    run_id = registry.version(theme, version).run_id
    return Path(unquote(urlparse(registry.client.get_run(run_id).info.artifact_uri).path))


def champion_version(registry: Registry, theme: str) -> int | None:
    champion = registry.champion(theme)
    return champion.version if champion else None


def tree(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*")}


def test_register_records_run_version_and_text_only_artifacts(
    registry: Registry, trained: TrainingResult, world: World
) -> None:
    result = as_theme(trained, "reg")
    info = registry.register(result, input_sha256=world.inputs, code_version="abc123", registered_by="alice")
    assert info.version == 1 and info.source == f"runs:/{info.run_id}/model" and not info.aliases
    run = registry.client.get_run(info.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["num_leaves"] == "15" and run.data.params["cutoff"] == "2026-06-30"
    for ranking in ("model", "scorecard", "rule", "oracle"):
        assert f"test.{ranking}.precision_at_budget" in run.data.metrics
        assert f"test.{ranking}.pr_auc" in run.data.metrics
    assert info.precision == pytest.approx(trained.evaluation.model_precision)
    assert json.loads(info.tags[Tag.INPUTS_SHA256]) == world.inputs
    assert info.model_sha256 == trained.scorer.sha256 and info.spec_hash == result.spec.spec_hash()
    assert info.tags[Tag.TRAINING_DATA_SHA256] == trained.data.content_sha256()
    assert {k: run.data.tags[k] for k in info.tags if k != Tag.REGISTERED_BY} == {
        k: v for k, v in info.tags.items() if k != Tag.REGISTERED_BY
    }
    folder = artifact_dir(registry, "reg", 1)
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"model/model.txt", "model/scorer.json", "model/model.sha256", "spec.json", "features.json"} <= files
    assert {"model_card.md", "evaluation/evaluation.json", "evaluation/evaluation.md"} <= files
    assert (folder / "model/model.txt").read_bytes() == trained.scorer.model_text.encode("utf-8")
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib", "MLmodel", ".cloudpickle"))]
    card = (folder / "model_card.md").read_text(encoding="utf-8")
    assert card == render_model_card(result, 1, "alice", "abc123")
    assert register(registry, result) == 2


def test_versions_champion_and_promotion_record(registry: Registry, trained: TrainingResult) -> None:
    assert registry.versions("listing") == [] and registry.champion("listing") is None
    result = as_theme(trained, "listing")
    register(registry, result)
    register(registry, result)
    record = registry.promote("listing", 2, who="bob", why="better recall", expected_champion=None)
    assert (record.version, record.previous_champion, record.comparable) == (2, None, False)
    versions = registry.versions("listing")
    assert [(v.version, v.aliases) for v in versions] == [(1, ()), (2, ("champion",))]
    champion = registry.champion("listing")
    assert champion is not None and champion.version == 2 and champion.is_champion
    assert champion.tags[Tag.PROMOTED_BY] == "bob" and champion.tags[Tag.PROMOTED_WHY] == "better recall"
    again = registry.promote("listing", 1, who="bob", why="rollback", expected_champion=2)
    assert again.previous_champion == 2 and again.comparable  # same result, same dates: equal precision passes
    logged = [r for r in registry.promotions() if r.theme == "listing"]
    assert [(r.version, r.previous_champion, r.who) for r in logged] == [(2, None, "bob"), (1, 2, "bob")]
    with pytest.raises(ValueError, match="who and why"):
        registry.promote("listing", 2, who=" ", why="x")


def test_load_champion_reproduces_scores(registry: Registry, trained: TrainingResult) -> None:
    result = as_theme(trained, "loading")
    registry.promote("loading", register(registry, result), who="carol", why="first model")
    loaded = registry.load("loading", "champion")
    test = trained.data.part("test")
    assert np.array_equal(loaded.scorer.probability(test, loaded.booster), trained.scorer.probability(test))
    assert loaded.spec == json.loads(json.dumps(result.spec.to_dict(), default=str))
    assert loaded.features["feature_names"] == list(trained.scorer.feature_names)
    assert loaded.version.version == 1 and loaded.model_sha256 == trained.scorer.sha256


def test_m1_missing_registry_is_refused_and_nothing_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # MLflow would also drop ./mlruns in the working directory
    before = tree(tmp_path)
    for uri in (
        f"sqlite:///{tmp_path / 'missing' / 'mlflow.db'}",
        f"sqlite:///{tmp_path / 'mlflow.db'}",
        "sqlite:///relative/mlflow.db",
    ):
        with pytest.raises(RegistryNotFound, match="riskgen models init") as refused:
            Registry.open(uri)
        assert "mlflow.db" in str(refused.value)
    for uri in ("file:///tmp/mlruns", "http://localhost:5000", "sqlite://", "sqlite:///:memory:"):
        with pytest.raises(UnsupportedRegistry):
            Registry.open(uri)
    assert tree(tmp_path) == before  # figure: 0 files or folders created


def test_m1_mistyped_path_beside_a_real_registry(registry: Registry) -> None:
    folder = registry.location.db_path.parent
    before = tree(folder)
    with pytest.raises(RegistryNotFound, match=r"mlfow\.db"):
        Registry.open(f"sqlite:///{folder / 'mlfow.db'}")
    assert tree(folder) == before


def test_m1_foreign_database_is_refused_untouched(tmp_path: Path) -> None:
    review = tmp_path / "review.db"
    with sqlite3.connect(review) as connection:
        connection.execute("CREATE TABLE dispositions (id INTEGER PRIMARY KEY, note TEXT)")
    digest = hashlib.sha256(review.read_bytes()).hexdigest()
    text = tmp_path / "notes.db"
    text.write_text("not a database")
    for path in (review, text):
        for create in (False, True):
            with pytest.raises(NotARiskgenRegistry, match="will not write into it"):
                Registry.open(f"sqlite:///{path}", create=create)
    assert hashlib.sha256(review.read_bytes()).hexdigest() == digest  # MLflow never migrated it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db", "review.db"]


def test_m1_mlflow_database_without_sentinel_is_refused(registry: Registry, tmp_path: Path) -> None:
    copy_path = tmp_path / "mlflow.db"
    shutil.copyfile(registry.location.db_path, copy_path)
    Registry.open(f"sqlite:///{copy_path}")  # the copy, with its sentinel, opens
    with sqlite3.connect(copy_path) as connection:
        connection.execute("DELETE FROM experiment_tags WHERE key = 'riskgen.registry'")
    for create in (False, True):
        with pytest.raises(NotARiskgenRegistry, match="MLflow database riskgen did not create"):
            Registry.open(f"sqlite:///{copy_path}", create=create)


def test_m3_missing_champion_or_artifact_is_a_clear_error_without_fallback(
    registry: Registry, trained: TrainingResult
) -> None:
    with pytest.raises(ModelNotFound, match=r"no registered model riskgen\.never_trained"):
        registry.load("never_trained", 1)
    result = as_theme(trained, "m3")
    first, second = register(registry, result), register(registry, result)
    with pytest.raises(ModelNotFound, match="has no champion"):
        registry.load("m3", "champion")
    with pytest.raises(ModelNotFound, match="has no version 99"):
        registry.load("m3", 99)
    registry.promote("m3", first, who="dan", why="first")
    registry.promote("m3", second, who="dan", why="second")
    (artifact_dir(registry, "m3", second) / "model" / "model.txt").unlink()
    with pytest.raises(ModelNotFound, match=r"version 2: artifact model/model\.txt missing"):
        registry.load("m3", "champion")  # not version 1: no silent fallback
    assert registry.load("m3", first).version.version == first  # an explicit request still works
    shutil.rmtree(artifact_dir(registry, "m3", first))
    with pytest.raises(ModelNotFound, match="version 1: artifact"):
        registry.load("m3", first)


def test_m4_edited_leaf_value_is_refused_before_any_booster(
    registry: Registry, trained: TrainingResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = as_theme(trained, "m4")
    tampered_version, clean_version = register(registry, result), register(registry, result)
    model_file = artifact_dir(registry, "m4", tampered_version) / "model" / "model.txt"
    lines = model_file.read_text(encoding="utf-8").split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith("leaf_value="))
    values = lines[index].removeprefix("leaf_value=").split(" ")
    values[0] = repr(float(values[0]) + 0.5)  # one leaf value, as in the measured fact
    lines[index] = "leaf_value=" + " ".join(values)
    model_file.write_text("\n".join(lines), encoding="utf-8")
    lightgbm.Booster(model_str=model_file.read_text(encoding="utf-8"))  # LightGBM itself would load it silently

    built: list[int] = []

    class CountingBooster(lightgbm.Booster):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(lightgbm, "Booster", CountingBooster)
    with pytest.raises(ModelIntegrityError, match=r"model/model\.txt has sha256 .* recorded at registration"):
        registry.load("m4", tampered_version)
    assert built == []  # figure: 0 boosters constructed from the tampered text
    registry.load("m4", clean_version)
    assert built == [1]  # the counter does see a load


def test_m6_pickle_payload_is_never_executed(registry: Registry, trained: TrainingResult, tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    pickle.loads(payload(probe))  # the payload is live: unpickling it runs code
    assert probe.exists()
    marker = tmp_path / "pwned"
    result = as_theme(trained, "m6")
    planted, replaced = register(registry, result), register(registry, result)
    (artifact_dir(registry, "m6", planted) / "model" / "model.pkl").write_bytes(payload(marker))
    with pytest.raises(ModelIntegrityError, match=r"unexpected file\(s\) model/model\.pkl"):
        registry.load("m6", planted)
    (artifact_dir(registry, "m6", replaced) / "model" / "scorer.json").write_bytes(payload(marker))
    with pytest.raises(ModelIntegrityError, match=r"model/scorer\.json has sha256"):
        registry.load("m6", replaced)
    assert not marker.exists()  # figure: the payload ran 0 times


def test_m8_two_promotions_at_once_one_wins(registry: Registry, trained: TrainingResult) -> None:
    result = as_theme(trained, "m8")
    old, left, right = (register(registry, result) for _ in range(3))
    registry.promote("m8", old, who="setup", why="initial champion", expected_champion=None)
    # Fork server: one fresh interpreter imports MLflow once and forks both workers from it, so they start fast and
    # inherit no database engine from this process (forking this process would share its SQLite connections).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["registry_workers"])
    barrier, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=promote_worker, args=(registry.tracking_uri, "m8", v, old, barrier, results))
        for v in (left, right)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=300) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    kinds = [outcome[0] for outcome in outcomes]
    assert kinds == ["conflict", "won"], outcomes  # figure: exactly 1 of 2 promotions won
    winner = outcomes[1][1]
    assert outcomes[1][2] == old and f"expected champion version {old}" in outcomes[0][2]
    champion = registry.champion("m8")
    assert champion is not None and champion.version == winner
    logged = [(r.version, r.previous_champion) for r in registry.promotions() if r.theme == "m8"]
    assert logged == [(old, None), (winner, old)]


def test_m11_retraining_gives_the_same_model(registry: Registry, trained: TrainingResult, world: World) -> None:
    again = train_theme(SMALL_SPEC, world.store, AS_OF, world.root / "report_again", world.hazard)
    assert again.scorer.model_text.encode("utf-8") == trained.scorer.model_text.encode("utf-8")  # byte-identical
    assert again.scorer.calibration == trained.scorer.calibration
    first = register(registry, as_theme(trained, "m11"), world)
    second = register(registry, as_theme(again, "m11"), world)
    one, two = registry.load("m11", first), registry.load("m11", second)
    assert one.version.model_sha256 == two.version.model_sha256
    assert one.version.tags[Tag.TRAINING_DATA_SHA256] == two.version.tags[Tag.TRAINING_DATA_SHA256]
    test = trained.data.part("test")
    assert np.array_equal(one.scorer.probability(test, one.booster), two.scorer.probability(test, two.booster))


def worse(result: TrainingResult, by: float, test_dates: list[str] | None = None) -> TrainingResult:
    """The same model with a lower recorded test precision (and optionally another test period)."""
    evaluation = copy.deepcopy(result.evaluation)
    evaluation.rankings["model"]["precision"] -= by
    if test_dates is not None:
        evaluation.test_dates = test_dates
    return dataclasses.replace(result, evaluation=evaluation)


def test_promotion_of_a_worse_model_is_refused_unless_forced(registry: Registry, trained: TrainingResult) -> None:
    result = as_theme(trained, "worse")
    good, bad = register(registry, result), register(registry, worse(result, 0.05))
    registry.promote("worse", good, who="erin", why="baseline")
    champion = registry.champion("worse")
    candidate = registry.version("worse", bad)
    assert champion is not None and candidate.metrics[precision_metric()] < champion.metrics[precision_metric()]
    with pytest.raises(PromotionRefused) as refused:
        registry.promote("worse", bad, who="erin", why="try")
    assert f"{candidate.precision:.4f}" in str(refused.value) and f"{champion.precision:.4f}" in str(refused.value)
    assert champion_version(registry, "worse") == good
    with pytest.raises(PromotionConflict):
        registry.promote("worse", bad, who="erin", why="stale view", expected_champion=bad, force=True)
    forced = registry.promote("worse", bad, who="erin", why="regulator asked", force=True, expected_champion=good)
    assert forced.forced and forced.comparable and champion_version(registry, "worse") == bad
    other_period = register(registry, worse(result, 0.10, ["2025-01-31"]))
    record = registry.promote("worse", other_period, who="erin", why="new test period")
    assert not record.comparable  # different test dates: figures recorded, not compared


def test_model_card_has_the_key_sections(trained: TrainingResult) -> None:
    card = render_model_card(trained, 7, "alice", "abc123")
    for heading in ("Purpose", "Owner", "Label", "Cohort", "Data window", "Features", "Metrics", "Calibration"):
        assert f"\n## {heading}\n" in card
    assert "\n## Limitations\n" in card and "Selective labels" in card
    assert SPEC.limitations[0] in card and SPEC.purpose in card and SPEC.owner in card
    assert "version **7**" in card and "alice" in card and "abc123" in card
    assert trained.scorer.sha256 in card and trained.spec.spec_hash() in card
    assert "近90天退费类投诉数" in card and "`refund_complaints__count_90d`" in card
    assert "| closures" not in card and "`closures`" in card and "180 days" in card
    for ranking in ("model", "scorecard", "rule", "oracle"):
        assert f"\n| {ranking} | " in card
    assert "2026-06-30" in card and "| test | 4 |" in card
