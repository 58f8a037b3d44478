"""Two more shipped themes, each on its own synthetic world: the generator is theme- and entity-agnostic.

illegal_fundraising scores enterprises from registry changes, public opinion and complaints; fire_lanes scores
monitored fire lanes (no enterprise, no credit code) from device alerts. Both are built from generic blocks only.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from features.asof import ENTITY
from features.contracts import registered_contracts
from features.dataset_validation import validate_dataset
from features.store import TableStore
from features.synthetic.fire_lanes import generate_fire_lane_world
from features.synthetic.fundraising import generate_fundraising_world
from features.uscc import is_valid_uscc
from risk_models.spec import ThematicModelSpec
from risk_models.themes.fire_lanes import SPEC as FIRE_LANES
from risk_models.themes.illegal_fundraising import SPEC as FUNDRAISING
from risk_models.train_theme import TrainingResult, train_theme

AS_OF = date(2026, 6, 30)
LANE_ID = r"^FL-\d{6}-\d{6}$"
GENERIC_BLOCK_MODULE = "features.blocks.generic"


def _quick(spec: ThematicModelSpec) -> ThematicModelSpec:
    return dataclasses.replace(spec, model=dataclasses.replace(spec.model, num_boost_round=120))


def _validate(world: Path, out: Path) -> TableStore:
    result = validate_dataset(world, out, as_of=AS_OF, run_gx=False)
    assert result.ok, [b.to_dict() for b in result.blocking]
    quarantined = {t.table: t.quarantined for t in result.tables}
    assert sum(quarantined.values()) == 0, quarantined
    manifest = json.loads((world / "manifest.json").read_text(encoding="utf-8"))
    assert {t.table for t in result.tables} == set(manifest["tables"]) - {"true_hazard"}
    return TableStore.from_folder(out / "accepted")


@pytest.fixture(scope="module")
def fundraising_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = tmp_path_factory.mktemp("fundraising") / "world"
    generate_fundraising_world(world, n_enterprises=8_000, seed=7)
    return world


@pytest.fixture(scope="module")
def fire_lane_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = tmp_path_factory.mktemp("fire_lanes") / "world"
    generate_fire_lane_world(world, n_lanes=1391, seed=7)
    return world


@pytest.fixture(scope="module")
def fundraising_store(fundraising_world: Path) -> TableStore:
    return _validate(fundraising_world, fundraising_world.parent / "validated")


@pytest.fixture(scope="module")
def fire_lane_store(fire_lane_world: Path) -> TableStore:
    return _validate(fire_lane_world, fire_lane_world.parent / "validated")


@pytest.fixture(scope="module")
def fundraising_result(fundraising_store: TableStore, fundraising_world: Path) -> TrainingResult:
    return train_theme(
        _quick(FUNDRAISING), fundraising_store, AS_OF, fundraising_world.parent / "report",
        fundraising_world / "true_hazard.parquet",
    )  # fmt: skip


@pytest.fixture(scope="module")
def fire_lane_result(fire_lane_store: TableStore, fire_lane_world: Path) -> TrainingResult:
    return train_theme(
        _quick(FIRE_LANES), fire_lane_store, AS_OF, fire_lane_world.parent / "report",
        fire_lane_world / "true_hazard.parquet",
    )  # fmt: skip


@pytest.mark.parametrize("spec", [FUNDRAISING, FIRE_LANES], ids=lambda s: s.name)
def test_spec_declares_its_own_contracts_and_generic_blocks(spec: ThematicModelSpec) -> None:
    assert set(spec.tables) <= set(registered_contracts())  # importing the theme registered its contracts
    prefix = {"illegal_fundraising": "ifr_", "fire_lanes": "fl_"}[spec.name]
    for block in spec.blocks:
        assert block.name.startswith(prefix), block.name
        assert block.compute.__module__ == GENERIC_BLOCK_MODULE, block.name
    assert spec.policy.rule_baseline_feature in spec.feature_names
    assert all(t.feature in spec.feature_names for t in spec.policy.triggers)
    assert spec.history_start == "2023-01-01"  # the generators' default window start


def test_generators_are_deterministic(tmp_path: Path) -> None:
    def manifest(folder: Path) -> dict[str, object]:
        tables = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["tables"]
        return {name: entry["sha256"] for name, entry in tables.items()}

    generate_fundraising_world(tmp_path / "a", n_enterprises=400, seed=3)
    generate_fundraising_world(tmp_path / "b", n_enterprises=400, seed=3)
    generate_fire_lane_world(tmp_path / "c", n_lanes=60, seed=3)
    generate_fire_lane_world(tmp_path / "c", n_lanes=60, seed=3)  # an existing world is replaced in place
    generate_fire_lane_world(tmp_path / "d", n_lanes=60, seed=3)
    assert manifest(tmp_path / "a") == manifest(tmp_path / "b")
    assert manifest(tmp_path / "c") == manifest(tmp_path / "d")
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_fundraising_world_validates(fundraising_store: TableStore) -> None:
    cases = fundraising_store.frame("fundraising_cases").collect()
    firms = fundraising_store.frame("enterprises").collect()
    assert 0 < cases.height < firms.height * 0.1


def test_fire_lane_world_has_no_credit_codes(fire_lane_world: Path, fire_lane_store: TableStore) -> None:
    for path in fire_lane_world.glob("*.parquet"):
        frame = pl.read_parquet(path)
        assert "uscc" not in frame.columns, path.name
        assert frame["lane_id"].str.contains(LANE_ID).all(), path.name
    lanes = fire_lane_store.frame("fire_lanes").collect()
    assert lanes.height == 1391
    assert lanes["lane_id"].n_unique() == lanes.height


def test_fundraising_theme_trains(fundraising_result: TrainingResult) -> None:
    rankings = fundraising_result.evaluation.rankings
    model = rankings["model"]
    assert model["lift"] > 2, rankings  # far above the base rate at the budget
    assert model["auc"] > 0.6, rankings
    assert rankings["oracle"]["auc"] > 0.8, rankings  # the world carries signal (a small world trains noisily)


def test_fire_lane_theme_trains_on_lanes(fire_lane_result: TrainingResult) -> None:
    rankings = fire_lane_result.evaluation.rankings
    assert rankings["model"]["lift"] > 2, rankings
    assert rankings["model"]["auc"] > 0.6, rankings
    assert "oracle" in rankings  # the oracle joins on lane_id, the entity key of the hazard file
    frame = fire_lane_result.data.frame
    assert frame[ENTITY].str.contains(LANE_ID).all()
    for column, dtype in frame.schema.items():
        if dtype == pl.String:
            assert not any(is_valid_uscc(v) for v in frame[column].drop_nulls().unique().to_list()), column
