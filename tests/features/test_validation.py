"""Bad input (RELIABILITY.md D1–D14): every row accepted or quarantined with a reason, blocking failures named."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from support import AS_OF, complaint_rows, make_uscc

from features.contracts import RowRule, TableContract
from features.dataset_validation import accepted_path, quarantine_path, validate_dataset
from features.errors import BlockingFailure
from features.loading import file_sha256
from features.tables import COMPLAINTS, ENTERPRISES
from features.validation import TableValidation, validate_frame


def validate(frame: pl.DataFrame, contract: TableContract = COMPLAINTS, **kwargs: object) -> TableValidation:
    result = validate_frame(frame, contract, as_of=AS_OF, **kwargs)  # type: ignore[arg-type]
    assert result.accepted.height + result.quarantined.height == frame.height
    return result


def reasons_of(result: TableValidation) -> dict[str, str]:
    return dict(zip(result.quarantined["complaint_id"], result.quarantined["_reasons"], strict=True))


def write_csv(path: Path, rows: dict[str, list[str]], encoding: str = "utf-8", newline: str = "\n") -> Path:
    header = ",".join(rows)
    lines = [",".join(values) for values in zip(*rows.values(), strict=True)]
    path.write_bytes((newline.join([header, *lines]) + newline).encode(encoding))
    return path


def run_folder(data_dir: Path, tmp_path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    return validate_dataset(data_dir, tmp_path / "out", as_of=AS_OF, run_gx=False, **kwargs)  # type: ignore[arg-type]


def test_clean_rows_are_all_accepted_and_typed(complaints_frame: pl.DataFrame) -> None:
    result = validate(complaints_frame)
    assert result.quarantined.height == 0
    assert result.accepted.schema == pl.Schema(COMPLAINTS.schema)


def test_d1_gbk_and_gb18030_csv_with_rare_characters(tmp_path: Path) -> None:
    rows = complaint_rows(5)
    rows["text"] = ["退费难，老板跑路", "镕铖堃", "𠀀𪚥 rare", "培训机构闭店", "普通投诉"]
    data = tmp_path / "d"
    data.mkdir()
    write_csv(data / "complaints.csv", rows, encoding="gb18030")
    result = run_folder(data, tmp_path)
    assert result.ok and result.tables[0].encoding == "gb18030"
    accepted = pl.read_parquet(accepted_path(tmp_path / "out", "complaints"))
    assert accepted["text"].to_list() == rows["text"]


def test_d2_utf8_bom_and_crlf(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    path = write_csv(data / "complaints.csv", complaint_rows(4), newline="\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    result = run_folder(data, tmp_path)
    assert result.ok and result.tables[0].encoding == "utf-8-sig"
    accepted = pl.read_parquet(accepted_path(tmp_path / "out", "complaints"))
    assert accepted.height == 4 and not any(t.endswith("\r") for t in accepted["text"])


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"", "empty_file"), (b"complaint_id,uscc,channel,event_at,recorded_at,category,amount,text\n", "header_only")],
)
def test_d3_d4_empty_and_header_only_files_block_naming_the_file(tmp_path: Path, content: bytes, code: str) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "complaints.csv").write_bytes(content)
    result = run_folder(data, tmp_path)
    assert not result.ok
    failure = result.blocking[0]
    assert failure.code == code and "complaints.csv" in failure.message and "Fix:" in failure.message


def test_d5_collapsing_volume_is_held_until_confirmed(tmp_path: Path) -> None:
    history = tmp_path / "history"
    data = tmp_path / "d"
    data.mkdir()
    for day in range(1, 5):
        pl.DataFrame(complaint_rows(100, start=day * 1000)).write_parquet(data / "complaints.parquet")
        assert validate_dataset(
            data, tmp_path / f"o{day}", as_of=date(2026, 6, day), run_gx=False, history_dir=history
        ).ok
    pl.DataFrame(complaint_rows(10)).write_parquet(data / "complaints.parquet")
    held = validate_dataset(data, tmp_path / "o5", as_of=date(2026, 6, 5), run_gx=False, history_dir=history)
    assert [b.code for b in held.blocking] == ["row_count_collapse"]
    assert "--confirm-volume complaints" in held.blocking[0].fix
    confirmed = validate_dataset(
        data, tmp_path / "o5", as_of=date(2026, 6, 5), run_gx=False, history_dir=history, confirm_volume=["complaints"]
    )
    assert confirmed.ok and confirmed.tables[0].accepted == 10


def test_d6_truncated_csv_is_caught_by_the_sender_manifest(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    path = write_csv(data / "complaints.csv", complaint_rows(50))
    manifest = {"tables": {"complaints": {"rows": 50, "sha256": file_sha256(path)}}}
    (data / "manifest.json").write_text(json.dumps(manifest))
    assert run_folder(data, tmp_path).ok
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])  # cut mid-line: polars still parses it
    result = run_folder(data, tmp_path)
    assert [b.code for b in result.blocking] == ["manifest_mismatch"]


def test_d6_without_a_manifest_a_torn_last_row_is_quarantined(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    path = write_csv(data / "complaints.csv", complaint_rows(50))
    path.write_bytes(path.read_bytes()[:-4])  # amount "149.50" torn to "149."-ish, no final newline
    result = run_folder(data, tmp_path)
    quarantine = pl.read_parquet(quarantine_path(tmp_path / "out", "complaints"))
    assert result.tables[0].accepted + result.tables[0].quarantined == 50
    assert quarantine["_row"].to_list() == [49] and "possibly_torn_last_row" in quarantine["_reasons"][0]


def test_d7_renamed_missing_and_extra_columns(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    frame = (
        pl.DataFrame(complaint_rows(5)).rename({"recorded_at": "record_date"}).with_columns(pl.lit("x").alias("note"))
    )
    frame.write_parquet(data / "complaints.parquet")
    failure = run_folder(data, tmp_path).blocking[0]
    assert failure.code == "missing_columns" and failure.column == "recorded_at"
    assert "renamed to 'record_date'?" in failure.problem
    frame.rename({"record_date": "recorded_at"}).write_parquet(data / "complaints.parquet")
    result = run_folder(data, tmp_path)
    assert result.ok and result.tables[0].extra_columns == ("note",)


def test_d8_credit_code_variants() -> None:
    valid = make_uscc(42)
    variants = {
        "ok-lower": valid.lower(),
        "ok-fullwidth": valid[:5] + "".join(chr(ord(c) + 0xFEE0) for c in valid[5:9]) + valid[9:],
        "ok-spaces": f" {valid[:6]} {valid[6:]} ",
        "bad-check": valid[:-1] + ("0" if valid[-1] != "0" else "1"),
        "bad-length": valid[:-2],
        "bad-letter": valid[:10] + "I" + valid[11:],
        "bad-sci": "9.13301E+17",
        "bad-old": "330109000012345",
    }
    rows = complaint_rows(len(variants))
    rows["complaint_id"], rows["uscc"] = list(variants), list(variants.values())
    result = validate(pl.DataFrame(rows))
    assert set(result.accepted["uscc"]) == {valid}
    assert reasons_of(result) == {
        "bad-check": "uscc_bad_checksum",
        "bad-length": "uscc_wrong_length",
        "bad-letter": "uscc_forbidden_character",
        "bad-sci": "uscc_scientific_notation",
        "bad-old": "uscc_old_registration_number",
    }


def test_d8_pilot_codes_failing_the_checksum_can_be_allow_listed() -> None:
    pilot = make_uscc(7)[:-1] + "0"
    rows = complaint_rows(2)
    rows["uscc"] = [pilot, make_uscc(8)[:-1] + "0"]
    result = validate(pl.DataFrame(rows), uscc_allowlist=[pilot])
    assert result.accepted["uscc"].to_list() == [pilot]
    assert list(reasons_of(result).values()) == ["uscc_bad_checksum"]


def test_d9_exact_duplicates_resent_batches_and_conflicting_keys() -> None:
    batch = pl.DataFrame(complaint_rows(30))
    resent = validate(pl.concat([batch, batch]))
    assert resent.accepted.height == 30 and resent.reason_counts == {"duplicate_row": 30}
    conflicting = pl.concat([batch.head(2), batch.head(1).with_columns(pl.lit("999").alias("amount"))])
    result = validate(conflicting)
    assert result.accepted["complaint_id"].to_list() == ["C0000001"]
    assert result.reason_counts == {"conflicting_key": 2}


def test_d10_future_dates_and_mixed_formats_and_excel_serials() -> None:
    rows = complaint_rows(6)
    rows["event_at"] = ["2025年6月3日", "2025/6/3", "45811", "20250603", "2027-01-01", "2025-13-45"]
    rows["recorded_at"] = ["2025-06-05", "2025-06-05", "2025-06-05", "2025-06-05", "2027-01-02", "2025-06-05"]
    result = validate(pl.DataFrame(rows))
    assert set(result.accepted["event_at"]) == {date(2025, 6, 3)}
    assert reasons_of(result) == {
        "C0000004": "future_date:event_at;future_date:recorded_at",
        "C0000005": "bad_type:event_at",
    }


def test_d10_recorded_before_the_event_is_quarantined() -> None:
    rows = complaint_rows(2)
    rows["recorded_at"] = ["2025-06-01", "2025-06-05"]
    assert reasons_of(validate(pl.DataFrame(rows))) == {"C0000000": "recorded_before_event"}


def test_d11_negative_absurd_nan_and_unparseable_amounts() -> None:
    rows = complaint_rows(7)
    rows["amount"] = ["-5", "1e12", "abc", "1,200.50", "", "NaN", "inf"]
    result = validate(pl.DataFrame(rows))
    assert reasons_of(result) == {
        "C0000000": "below_minimum:amount",
        "C0000001": "above_maximum:amount",
        "C0000002": "bad_type:amount",
        "C0000005": "not_a_number:amount;above_maximum:amount",  # polars orders NaN above every number
        "C0000006": "not_a_number:amount;above_maximum:amount",
    }
    assert result.accepted["amount"].to_list() == [1200.5, None]  # amount is optional


def test_d12_an_empty_batch_blocks_rather_than_passing_every_rule(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    pl.DataFrame(complaint_rows(0), schema=dict.fromkeys(complaint_rows(0), pl.String)).write_parquet(
        data / "complaints.parquet"
    )
    assert [b.code for b in run_folder(data, tmp_path).blocking] == ["header_only"]


def test_d13_a_rule_that_errors_stops_the_run() -> None:
    broken = TableContract(
        name="complaints_with_broken_rule",
        title="x",
        kind="event",
        columns=COMPLAINTS.columns,
        keys=COMPLAINTS.keys,
        event_at="event_at",
        recorded_at="recorded_at",
        rules=(RowRule("amount_vs_missing", "refers to a column that does not exist", lambda: pl.col("nope") > 1),),
    )
    with pytest.raises(BlockingFailure) as caught:
        validate_frame(pl.DataFrame(complaint_rows(3)), broken, as_of=AS_OF)
    assert caught.value.code == "rule_error" and "amount_vs_missing" in caught.value.message


def test_missing_required_values_and_unknown_categories() -> None:
    rows = complaint_rows(3)
    rows["category"] = ["refund_refusal", "unknown", ""]
    assert reasons_of(validate(pl.DataFrame(rows))) == {
        "C0000001": "not_allowed:category",
        "C0000002": "missing:category",
    }


def test_typed_parquet_input_needs_no_parsing_and_cross_column_rules_apply() -> None:
    code = make_uscc(1)
    frame = pl.DataFrame(
        {
            "uscc": [code, make_uscc(2)],
            "name": ["杭州萧山启航教育培训有限公司", "杭州萧山某健身有限公司"],
            "industry_code": ["8393", "8930"],
            "sector": ["education_training", "fitness"],
            "town": ["城厢街道", "瓜沥镇"],
            "grid_cell": ["330109-01-0001", "330109-08-0002"],
            "registered_at": [date(2020, 1, 1), date(2021, 5, 1)],
            "registered_capital": [1e6, 5e5],
            "status": ["active", "deregistered"],
            "deregistered_at": [None, date(2020, 1, 1)],
            "prepaid_filing": [True, False],
            "recorded_at": [date(2020, 1, 2), date(2021, 5, 2)],
        }
    )
    result = validate(frame, ENTERPRISES)
    assert result.accepted["uscc"].to_list() == [code]
    assert result.quarantined["_reasons"].to_list() == ["deregistered_at_before_registered_at"]


def test_quarantine_keeps_the_delivered_text_and_row_numbers(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    rows = complaint_rows(4)
    rows["amount"][2] = "-1"
    write_csv(data / "complaints.csv", rows)
    result = run_folder(data, tmp_path)
    quarantine = pl.read_parquet(quarantine_path(tmp_path / "out", "complaints"))
    assert quarantine.select("_row", "amount", "_reasons").rows() == [(2, "-1", "below_minimum:amount")]
    report = json.loads((tmp_path / "out" / "validation_report.json").read_text())
    assert report["tables"][0]["quarantined"] == 1 and result.ok
