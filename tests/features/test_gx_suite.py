"""The GX suite report: generated from contracts, fails on empty batches, bad values and errored expectations."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from features.contracts import TableContract
from features.gx_suite import GxReport, build_expectation_suite, run_expectation_suite, run_suites
from features.tables import (
    ABNORMAL_LIST,
    CLOSURES,
    COMPLAINTS,
    ENTERPRISES,
    ESCROW_BALANCES,
    LEGAL_REP_HISTORY,
    PREPAID_TRANSACTIONS,
)
from features.uscc import uscc_check_char

D1, D2, D3 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 4, 1)


def code(i: int) -> str:
    """A valid credit code: body `91330109MA2B` + 5 characters, then the check character."""
    body = f"91330109MA2B{i:05d}"
    return body + uscc_check_char(body)


A, B, C = code(1), code(2), code(3)

ROWS: dict[str, dict[str, list[Any]]] = {
    "enterprises": {
        "uscc": [A, B, C],
        "name": ["甲健身有限公司", "乙教育培训有限公司", "丙美容店"],
        "industry_code": ["8930", "8391", "8040"],
        "sector": ["fitness", "education_training", "beauty"],
        "town": ["城厢街道", "北干街道", "瓜沥镇"],
        "grid_cell": ["G01", "G02", "G03"],
        "registered_at": [date(2019, 5, 1), date(2020, 1, 2), date(2021, 7, 8)],
        "registered_capital": [1_000_000.0, 500_000.0, 0.0],
        "status": ["active", "active", "deregistered"],
        "deregistered_at": [None, None, date(2024, 2, 1)],
        "prepaid_filing": [True, False, True],
        "recorded_at": [D2, D2, D2],
    },
    "legal_rep_history": {
        "uscc": [A, A, B],
        "rep_name": ["张三", "李四", "王五"],
        "rep_id_number": ["330109199001011234", "330109198502023456", "33010919700303789X"],
        "rep_age": [29, 35, 50],
        "rep_is_local": [True, False, True],
        "valid_from": [date(2019, 5, 1), date(2022, 1, 1), date(2020, 1, 2)],
        "valid_to": [date(2021, 12, 31), None, None],
        "recorded_at": [date(2019, 5, 3), date(2022, 1, 5), date(2020, 1, 2)],
    },
    "abnormal_list": {
        "uscc": [A, B, C],
        "listed_at": [D1, D1, D2],
        "removed_at": [None, D3, None],
        "reason": ["unreachable_address", "annual_report_missing", "no_response"],
        "recorded_at": [D2, D2, D3],
    },
    "complaints": {
        "complaint_id": ["C0001", "C0002", "C0003"],
        "uscc": [A, B, C],
        "channel": ["12315", "12345", "12315"],
        "event_at": [D1, D1, D2],
        "recorded_at": [D1, D2, D3],
        "category": ["refund_refusal", "closure_absconding", "other"],
        "amount": [1_200.0, None, 88.5],
        "text": ["会员卡无法退费", None, "门店关门"],
    },
    "prepaid_transactions": {
        "uscc": [A, A, B],
        "txn_date": [D1, D1, D1],
        "kind": ["sale", "refund", "sale"],
        "amount": [5_000.0, 300.0, 0.0],
        "card_count": [10, 1, 0],
        "recorded_at": [D2, D2, D2],
    },
    "escrow_balances": {
        "uscc": [A, B, A],
        "balance_date": [D1, D1, D3],
        "balance": [10_000.0, 0.0, 9_500.0],
        "recorded_at": [D2, D2, D3],
    },
    "closures": {
        "uscc": [C],
        "closed_at": [D2],
        "kind": ["closure"],
        "recorded_at": [D3],
    },
}
CONTRACTS: dict[str, TableContract] = {
    c.name: c
    for c in (
        ENTERPRISES,
        LEGAL_REP_HISTORY,
        ABNORMAL_LIST,
        COMPLAINTS,
        PREPAID_TRANSACTIONS,
        ESCROW_BALANCES,
        CLOSURES,
    )
}


def valid(table: str) -> pl.DataFrame:
    return pl.DataFrame(ROWS[table], schema=CONTRACTS[table].schema)


def set_value(column: str, row: int, value: Any) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """A frame edit: put `value` into one cell (keeping the column's dtype)."""

    def edit(frame: pl.DataFrame) -> pl.DataFrame:
        values = frame[column].to_list()
        values[row] = value
        return frame.with_columns(pl.Series(column, values, dtype=frame.schema[column]))

    return edit


def failing_results(report: GxReport) -> list[dict[str, Any]]:
    payload = json.loads(report.json_path.read_text(encoding="utf-8"))
    return [r for r in payload["results"] if not r["success"]]


def test_suite_is_generated_from_the_contract() -> None:
    suite = build_expectation_suite(PREPAID_TRANSACTIONS)
    by_rule = {e.meta["rule"]: e for e in suite.expectations}
    assert suite.name == "riskgen.prepaid_transactions"
    assert all(e.meta["contract"] == "prepaid_transactions" and e.meta["source"] for e in suite.expectations)
    assert by_rule["min_rows"].min_value == PREPAID_TRANSACTIONS.min_rows
    assert by_rule["columns"].column_list == PREPAID_TRANSACTIONS.column_names
    assert by_rule["keys_unique"].expectation_type == "expect_compound_columns_to_be_unique"
    assert by_rule["keys_unique"].column_list == ["uscc", "txn_date", "kind"]
    assert by_rule["recorded_not_before_event"].column_A == "recorded_at"
    assert by_rule["recorded_not_before_event"].column_B == "txn_date"
    assert by_rule["recorded_not_before_event"].or_equal is True
    assert (by_rule["bounds:card_count"].min_value, by_rule["bounds:card_count"].max_value) == (0, 100_000)
    assert by_rule["allowed:kind"].value_set == ["sale", "recharge", "redemption", "refund"]
    assert by_rule["uscc_format:uscc"].regex.startswith("^[0123456789ABCDEFGHJKLMNPQRTUWXY]{18}")
    required = {r.split(":")[1] for r in by_rule if r.startswith("required:")}
    assert required == {c.name for c in PREPAID_TRANSACTIONS.columns if c.required}
    single_key = {e.meta["rule"]: e for e in build_expectation_suite(COMPLAINTS).expectations}["keys_unique"]
    assert single_key.expectation_type == "expect_column_values_to_be_unique"


def test_valid_frames_of_every_builtin_table_pass_in_one_site(tmp_path: Path) -> None:
    reports = run_suites({name: valid(name) for name in CONTRACTS}, CONTRACTS, tmp_path)
    assert [r.table for r in reports] == list(CONTRACTS)
    for report in reports:
        assert report.success, (report.table, report.failed_expectations)
        assert (
            report.evaluated == report.successful == len(build_expectation_suite(CONTRACTS[report.table]).expectations)
        )
        assert report.json_path == tmp_path / "gx" / f"{report.table}.json"
        assert report.html_path.is_file() and tmp_path / "gx" / "data_docs" in report.html_path.parents
    index = (tmp_path / "gx" / "data_docs" / "index.html").read_text(encoding="utf-8")
    assert all(f"riskgen.{name}" in index for name in CONTRACTS)


def test_empty_frame_fails_on_the_row_count_rule_only(tmp_path: Path) -> None:
    report = run_expectation_suite(COMPLAINTS, valid("complaints").head(0), tmp_path)
    assert not report.success
    assert report.failed_expectations == ["min_rows (expect_table_row_count_to_be_between)"]
    assert report.errored_expectations == []


@pytest.mark.parametrize(
    ("table", "edit", "expected"),
    [
        ("complaints", set_value("uscc", 1, None), "required:uscc (expect_column_values_to_not_be_null)"),
        ("complaints", set_value("channel", 0, "110"), "allowed:channel (expect_column_values_to_be_in_set)"),
        ("complaints", set_value("complaint_id", 2, "C0001"), "keys_unique (expect_column_values_to_be_unique)"),
        ("prepaid_transactions", set_value("kind", 1, "sale"), "keys_unique (expect_compound_columns_to_be_unique)"),
        ("complaints", set_value("amount", 0, -5.0), "bounds:amount (expect_column_values_to_be_between)"),
        ("legal_rep_history", set_value("rep_age", 0, 12), "bounds:rep_age (expect_column_values_to_be_between)"),
        (
            "complaints",
            set_value("recorded_at", 2, D1 - (D2 - D1)),
            "recorded_not_before_event (expect_column_pair_values_a_to_be_greater_than_b)",
        ),
        ("complaints", set_value("uscc", 0, A.lower()), "uscc_format:uscc (expect_column_values_to_match_regex)"),
        # Python's `$` matches before a trailing newline; the suite's regex must not.
        ("complaints", set_value("uscc", 0, A + "\n"), "uscc_format:uscc (expect_column_values_to_match_regex)"),
    ],
    ids=["null", "not_allowed", "dup_key", "dup_compound_key", "negative", "too_young", "clocks", "lower", "newline"],
)
def test_a_bad_value_fails_exactly_its_rule(
    tmp_path: Path, table: str, edit: Callable[[pl.DataFrame], pl.DataFrame], expected: str
) -> None:
    report = run_expectation_suite(CONTRACTS[table], edit(valid(table)), tmp_path)
    assert not report.success
    assert report.failed_expectations == [expected]
    assert report.errored_expectations == []
    assert report.successful == report.evaluated - 1
    [failing] = failing_results(report)
    assert failing["expectation_config"]["type"] == expected.split("(")[1].rstrip(")")
    assert failing["expectation_config"]["meta"]["rule"] == expected.split(" ")[0]
    assert failing["result"]["unexpected_count"] >= 1


def test_json_and_data_docs_name_the_failing_expectation(tmp_path: Path) -> None:
    report = run_expectation_suite(COMPLAINTS, set_value("channel", 0, "110")(valid("complaints")), tmp_path)
    payload = json.loads(report.json_path.read_text(encoding="utf-8"))
    assert payload["success"] is False and payload["suite_name"] == "riskgen.complaints"
    [failing] = failing_results(report)
    assert failing["expectation_config"]["kwargs"]["column"] == "channel"
    assert failing["result"]["partial_unexpected_list"] == ["110"]
    page = report.html_path.read_text(encoding="utf-8")
    assert "riskgen.complaints" in page and "channel" in page
    assert (tmp_path / "gx" / "data_docs" / "index.html").is_file()


def test_missing_column_errors_and_never_passes(tmp_path: Path) -> None:
    report = run_expectation_suite(COMPLAINTS, valid("complaints").drop("channel"), tmp_path)
    assert not report.success
    assert "columns (expect_table_columns_to_match_ordered_list)" in report.failed_expectations
    assert report.errored_expectations == [
        "required:channel (expect_column_values_to_not_be_null)",
        "allowed:channel (expect_column_values_to_be_in_set)",
    ]
    assert set(report.errored_expectations) <= set(report.failed_expectations)
    errored = [r for r in failing_results(report) if r["expectation_config"]["kwargs"].get("column") == "channel"]
    assert errored and all("raised_exception" in json.dumps(r["exception_info"]) for r in errored)


def test_expectation_that_raises_on_a_wrong_dtype_is_an_error(tmp_path: Path) -> None:
    frame = valid("complaints").with_columns(pl.col("amount").cast(pl.String).fill_null("n/a"))
    report = run_expectation_suite(COMPLAINTS, frame, tmp_path)
    assert not report.success
    assert report.errored_expectations == ["bounds:amount (expect_column_values_to_be_between)"]
    assert report.failed_expectations == report.errored_expectations


def test_an_expectation_without_a_result_counts_as_errored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import features.gx_suite as gx_suite

    real_validate = gx_suite._validate

    def drop_first_result(*args: Any) -> Any:
        suite, result = real_validate(*args)
        result.results = result.results[1:]
        return suite, result

    monkeypatch.setattr(gx_suite, "_validate", drop_first_result)
    report = run_expectation_suite(COMPLAINTS, valid("complaints"), tmp_path)
    assert not report.success
    assert report.errored_expectations == ["min_rows (expect_table_row_count_to_be_between)"]


def test_pandas_copies_are_released_after_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A GX data source's execution engine caches every batch's frame; each table's source is deleted after its run.
    converted: list[weakref.ref[Any]] = []
    to_pandas = pl.DataFrame.to_pandas

    def tracked(self: pl.DataFrame, *args: Any, **kwargs: Any) -> Any:
        frame = to_pandas(self, *args, **kwargs)
        converted.append(weakref.ref(frame))
        return frame

    monkeypatch.setattr(pl.DataFrame, "to_pandas", tracked)
    run_suites({name: valid(name) for name in ("complaints", "closures")}, CONTRACTS, tmp_path)
    gc.collect()
    assert len(converted) == 2 and all(ref() is None for ref in converted)
