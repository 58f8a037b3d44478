"""The loop closes: staff decisions become a research-outcome table, and a theme retrains on it as its label.

Two years of research are simulated the way staff would produce them: each month some warned firms are researched and
decided (confirmed when the firm then closed, excluded otherwise). The decisions go through the review database,
are exported with `write_research_outcomes`, validated against their contract, and a theme whose label is an
`OutcomeLabel` over them trains and evaluates end to end.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import polars as pl
import pytest

from features.dataset_validation import validate_dataset
from features.store import TableStore
from features.synthetic import generate_world
from features.validation import validate_frame
from review.db import connect, dispositions
from review.outcomes import RESEARCH_OUTCOMES, write_research_outcomes
from risk_models.dataset import month_ends
from risk_models.spec import OutcomeLabel
from risk_models.themes.prepaid_cards import SPEC
from risk_models.train_theme import train_theme

CUTOFF = date(2026, 6, 30)


def _simulated_decisions(world: Path, seed: int = 3) -> list[dict[str, object]]:
    """Each month-end, research firms closing within 120 days (mostly) and as many others; decide 20 days later."""
    rng = random.Random(seed)
    firms = pl.read_parquet(world / "enterprises.parquet").filter(pl.col("prepaid_filing"))["uscc"].to_list()
    closures = pl.read_parquet(world / "closures.parquet")
    rows = []
    for as_of in month_ends(date(2023, 9, 1), date(2026, 3, 31)):
        soon = closures.filter((pl.col("closed_at") > as_of) & (pl.col("closed_at") <= as_of + timedelta(days=120)))
        closing = [f for f in soon["uscc"].unique().sort().to_list() if rng.random() < 0.6]
        others = rng.sample(firms, k=max(5, len(closing)))
        decided = datetime.combine(as_of + timedelta(days=20), time(10), tzinfo=UTC)
        for firm, status in [*((f, "confirmed") for f in closing), *((f, "excluded") for f in others)]:
            rows.append(
                {
                    "theme": "prepaid_cards",
                    "as_of": as_of,
                    "entity_id": firm,
                    "status": status,
                    "decided_at": decided,
                    "updated_by": "reviewer",
                    "updated_at": decided,
                    "notes": "研判结论 (simulated)",
                }
            )
    unique = {(r["as_of"], r["entity_id"]): r for r in rows}
    return list(unique.values())


@pytest.mark.slow
def test_dispositions_become_labels_and_a_theme_retrains_on_them(tmp_path: Path) -> None:
    world = generate_world(tmp_path / "world", n_enterprises=3000, progress=False).out_dir
    validation = validate_dataset(world, tmp_path / "validated", as_of=CUTOFF, run_gx=False)
    assert validation.ok
    engine = connect(f"sqlite:///{tmp_path / 'review.db'}")
    decisions = _simulated_decisions(world)
    with engine.begin() as connection:
        connection.execute(dispositions.insert(), decisions)

    accepted = tmp_path / "validated" / "accepted"
    path = write_research_outcomes(engine, accepted, theme="prepaid_cards")
    outcomes = pl.read_parquet(path)
    checked = validate_frame(outcomes, RESEARCH_OUTCOMES, as_of=CUTOFF)
    assert checked.quarantined.height == 0 and checked.accepted.height == len(decisions)
    assert set(outcomes["result"]) == {"confirmed", "excluded"}

    spec = replace(
        SPEC,
        name="prepaid_researched",
        label=OutcomeLabel("research_outcomes", horizon_days=60),
        tables=(*SPEC.tables, "research_outcomes"),
        model=replace(SPEC.model, num_boost_round=80, valid_months=2, test_months=2),
        policy=replace(SPEC.policy, budget_per_run=20),
    )
    result = train_theme(spec, TableStore.from_folder(accepted), CUTOFF, tmp_path / "report")
    summary = result.summary()
    # Selective labels: only firms researched within the horizon after t carry a label.
    researched = {str(r["entity_id"]) for r in decisions}
    assert set(result.data.frame["entity_id"].unique()) <= researched
    assert all(summary["positives"][split] > 0 for split in ("train", "valid", "test")), summary
    assert result.evaluation.rankings["model"]["auc"] > 0.5
    assert result.report["markdown"].exists()
