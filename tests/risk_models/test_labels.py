"""Labels look past t only through the label module: censoring, terminal and recurrent outcomes, cohorts."""

from __future__ import annotations

from datetime import date

import polars as pl
from support import make_uscc

from features.store import TableStore
from risk_models.cohort import cohort_frame
from risk_models.labels import LABEL, attach_labels, last_labelable_date
from risk_models.spec import Cohort, EventLabel

A, B, C = make_uscc(1), make_uscc(2), make_uscc(3)


def closures(rows: list[tuple[str, date, str]], recorded_until: date) -> TableStore:
    frame = pl.DataFrame(
        {
            "uscc": [r[0] for r in rows] + [C],
            "closed_at": [r[1] for r in rows] + [recorded_until],
            "kind": [r[2] for r in rows] + ["deregistration"],
            "recorded_at": [r[1] for r in rows] + [recorded_until],
        }
    )
    return TableStore.from_frames({"closures": frame})


def labelled(store: TableStore, label: EventLabel, dates: list[date]) -> dict[tuple[str, date], int | None]:
    rows = pl.DataFrame({"entity_id": [A, B] * len(dates), "as_of": [d for d in dates for _ in (A, B)]})
    out = attach_labels(label, store, rows)
    return {(r["entity_id"], r["as_of"]): r[LABEL] for r in out.iter_rows(named=True)}


def test_terminal_outcome_within_horizon_excludes_later_rows_and_censors_the_end() -> None:
    store = closures([(A, date(2024, 5, 10), "absconding")], recorded_until=date(2025, 3, 1))
    label = EventLabel("closures", 180, "kind", ("absconding", "closure"), settle_days=60)
    assert last_labelable_date(label, store) == date(2024, 7, 4)  # 2025-03-01 minus 180 + 60 days
    got = labelled(store, label, [date(2023, 10, 31), date(2024, 1, 31), date(2024, 6, 30), date(2024, 9, 30)])
    assert got[(A, date(2023, 10, 31))] == 0  # closure 192 days later: outside 180
    assert got[(A, date(2024, 1, 31))] == 1
    assert (A, date(2024, 6, 30)) not in got  # already closed
    assert got[(B, date(2024, 6, 30))] == 0
    assert got[(B, date(2024, 9, 30))] is None  # horizon not observed yet: censored, not negative


def test_filtered_kinds_do_not_count() -> None:
    store = closures([(A, date(2024, 2, 1), "deregistration")], recorded_until=date(2025, 6, 1))
    got = labelled(store, EventLabel("closures", 180, "kind", ("absconding",)), [date(2024, 1, 31)])
    assert got[(A, date(2024, 1, 31))] == 0


def test_recurrent_outcomes_keep_the_entity_and_use_the_next_event() -> None:
    store = closures([(A, date(2024, 1, 10), "closure"), (A, date(2024, 8, 1), "closure")], date(2025, 6, 1))
    label = EventLabel("closures", 90, "kind", ("closure",), recurrent=True)
    got = labelled(store, label, [date(2024, 1, 31), date(2024, 5, 31), date(2024, 7, 31)])
    assert got[(A, date(2024, 1, 31))] == 0  # next incident is 183 days away
    assert got[(A, date(2024, 5, 31))] == 1
    assert got[(A, date(2024, 7, 31))] == 1


def test_cohort_respects_registration_recording_age_and_deregistration() -> None:
    enterprises = pl.DataFrame(
        {
            "uscc": [A, B, C],
            "registered_at": [date(2020, 1, 1), date(2024, 1, 1), date(2020, 1, 1)],
            "recorded_at": [date(2020, 1, 2), date(2024, 1, 2), date(2020, 1, 2)],
            "deregistered_at": [None, None, date(2024, 3, 1)],
            "prepaid_filing": [True, True, False],
        },
        schema_overrides={"deregistered_at": pl.Date},
    )
    from features.contracts import get_contract

    store = TableStore({"enterprises": enterprises.lazy()}, {"enterprises": get_contract("enterprises")})
    cohort = Cohort(min_age_days=90)
    rows = cohort_frame(cohort, store, "enterprises", [date(2024, 2, 29), date(2024, 6, 30)])
    assert set(rows.iter_rows()) == {
        (A, date(2024, 2, 29)),
        (C, date(2024, 2, 29)),
        (A, date(2024, 6, 30)),
        (B, date(2024, 6, 30)),
    }
    filtered = cohort_frame(Cohort(where=(("prepaid_filing", (True,)),)), store, "enterprises", [date(2024, 2, 29)])
    assert set(filtered["entity_id"]) == {A, B}
