"""Common tests over every shipped theme (a new theme is tested the day it is added) and the scaffold → check path."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from features.blocks.base import registered_blocks
from features.contracts import registered_contracts
from risk_models.spec import EventLabel
from risk_models.themes import SHIPPED_THEMES, ThemeNotFound, load_theme


@pytest.mark.parametrize("name", SHIPPED_THEMES)
def test_shipped_theme_is_complete_and_stable(name: str) -> None:
    spec = load_theme(name)
    assert spec.name == name and spec.title_zh and spec.title_en and spec.owner and spec.purpose
    assert spec.spec_hash() == load_theme(name).spec_hash()
    json.dumps(spec.to_dict(), ensure_ascii=False, default=str)
    contracts = registered_contracts()
    assert set(spec.tables) <= set(contracts), "every table needs a registered contract"
    blocks = registered_blocks()
    for block in spec.blocks:
        assert blocks[block.name].fingerprint() == block.fingerprint()
    assert len(set(spec.feature_names)) == len(spec.feature_names)
    if isinstance(spec.label, EventLabel):
        assert contracts[spec.label.table].event_at
    module, function = (spec.synthetic_world or ":").split(":")
    assert callable(getattr(importlib.import_module(module), function)), "a shipped theme ships its demo world"
    for trigger in spec.policy.triggers:
        assert trigger.feature in spec.feature_names and trigger.tier in {t.name for t in spec.policy.tiers}
    if spec.policy.rule_baseline_feature:
        assert spec.policy.rule_baseline_feature in spec.feature_names


def test_unknown_theme_names_the_choices() -> None:
    with pytest.raises(ThemeNotFound, match="prepaid_cards"):
        load_theme("no_such_theme")


def test_theme_new_scaffolds_a_loadable_theme_and_refuses_to_overwrite(tmp_path: Path) -> None:
    from pipelines.cli import main

    runner = CliRunner()
    result = runner.invoke(
        main, ["theme", "new", "education_prepaid", "--like", "prepaid_cards", "--dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    spec = load_theme(tmp_path / "education_prepaid.py")
    assert spec.name == "education_prepaid" and spec.spec_hash() != load_theme("prepaid_cards").spec_hash()
    again = runner.invoke(main, ["theme", "new", "education_prepaid", "--dir", str(tmp_path)])
    assert again.exit_code != 0 and "already exists" in again.output


@pytest.mark.slow
def test_theme_check_trains_a_scaffolded_theme_and_reports_in_plain_words(tmp_path: Path, monkeypatch) -> None:
    from features.synthetic import generate_world
    from pipelines.cli import main

    monkeypatch.setenv("RISKGEN_HOME", str(tmp_path / "home"))
    generate_world(tmp_path / "world", n_enterprises=4000, progress=False)
    runner = CliRunner()
    assert runner.invoke(main, ["theme", "new", "mine", "--dir", str(tmp_path)]).exit_code == 0
    result = runner.invoke(main, ["theme", "check", str(tmp_path / "mine.py"), "--data", str(tmp_path / "world")])
    assert "model precision at the budget" in result.output, result.output
    assert "test:" in result.output and "positives" in result.output
    assert result.exit_code in (0, 1)
