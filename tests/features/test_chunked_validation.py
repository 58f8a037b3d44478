"""Chunked validation: the same accepted and quarantined rows whatever the chunk size; duplicates decided exactly."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from support import AS_OF, complaint_rows, make_uscc

from features import duplicates
from features.atomic import parquet_writer
from features.dataset_validation import accepted_path, quarantine_path, validate_dataset
from features.errors import BlockingFailure
from features.loading import read_delivery
from features.tables import COMPLAINTS, PREPAID_TRANSACTIONS
from features.validation import validate_frame

CHUNK_SIZES = (1, 2, 3, 7, 16, 1000)


def messy_complaints() -> pl.DataFrame:
    """40 delivered rows with bad values, re-sent copies and conflicting keys spread over many chunks."""
    rows = complaint_rows(36)
    rows["amount"][3] = "-5"
    rows["amount"][10] = "abc"
    rows["uscc"][12] = rows["uscc"][12][:-1] + ("0" if rows["uscc"][12][-1] != "0" else "1")
    rows["event_at"][20] = "2027-01-01"
    rows["category"][33] = "unknown"
    frame = pl.DataFrame(rows)
    resent = frame[[0, 5, 3, 5]]  # two copies of row 5, and a copy of a bad row
    conflict = frame[[17]].with_columns(pl.lit("999.00").alias("amount"))  # key of row 17, other content
    return pl.concat([frame, resent, conflict])


@pytest.mark.parametrize("chunk_rows", CHUNK_SIZES)
def test_chunked_validation_gives_the_one_shot_result(chunk_rows: int) -> None:
    frame = messy_complaints()
    one_shot = validate_frame(frame, COMPLAINTS, as_of=AS_OF, chunk_rows=frame.height)
    chunked = validate_frame(frame, COMPLAINTS, as_of=AS_OF, chunk_rows=chunk_rows)
    assert one_shot.accepted.height + one_shot.quarantined.height == frame.height
    assert chunked.accepted.equals(one_shot.accepted) and chunked.quarantined.equals(one_shot.quarantined)
    assert one_shot.reason_counts == {
        "duplicate_row": 4,
        "conflicting_key": 2,
        "below_minimum:amount": 2,
        "bad_type:amount": 1,
        "future_date:event_at": 1,
        "recorded_before_event": 1,
        "not_allowed:category": 1,
        "uscc_bad_checksum": 1,
    }
    reasons = dict(zip(one_shot.quarantined["_row"], one_shot.quarantined["_reasons"], strict=True))
    assert reasons[38] == "below_minimum:amount;duplicate_row" and reasons[17] == reasons[40] == "conflicting_key"
    assert one_shot.accepted["complaint_id"].to_list() == [
        f"C{i:07d}" for i in range(36) if i not in (3, 10, 12, 17, 20, 33)
    ]


@pytest.mark.parametrize("chunk_rows", CHUNK_SIZES)
def test_chunked_dataset_validation_writes_the_same_files(tmp_path: Path, chunk_rows: int) -> None:
    data = tmp_path / "d"
    data.mkdir()
    messy_complaints().write_parquet(data / "complaints.parquet", row_group_size=5)

    def validated(out: Path, chunk: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        assert validate_dataset(data, out, as_of=AS_OF, run_gx=False, chunk_rows=chunk).ok
        return pl.read_parquet(accepted_path(out, "complaints")), pl.read_parquet(quarantine_path(out, "complaints"))

    accepted, quarantined = validated(tmp_path / "one", 10_000)
    chunked_accepted, chunked_quarantined = validated(tmp_path / "chunked", chunk_rows)
    assert accepted.height == 30 and quarantined.height == 11
    assert chunked_accepted.equals(accepted) and chunked_quarantined.equals(quarantined)
    assert accepted.schema == pl.Schema(COMPLAINTS.schema)


def test_a_torn_last_row_is_held_in_any_chunk_size(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    path = data / "complaints.csv"
    pl.DataFrame(complaint_rows(9)).write_csv(path)
    path.write_bytes(path.read_bytes()[:-1])  # no final newline: the last row may be cut
    for chunk_rows in (2, 9):
        out = tmp_path / f"o{chunk_rows}"
        assert validate_dataset(data, out, as_of=AS_OF, run_gx=False, chunk_rows=chunk_rows).ok
        quarantine = pl.read_parquet(quarantine_path(out, "complaints"))
        assert quarantine.select("_row", "_reasons").rows() == [(8, "possibly_torn_last_row")]
        assert pl.read_parquet(accepted_path(out, "complaints")).height == 8


def transactions(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "uscc": [make_uscc(i % 5) for i in range(n)],
            "txn_date": [date(2026, 1, 1 + i // 5) for i in range(n)],
            "kind": ["sale"] * n,
            "amount": [100.0 + i for i in range(n)],
            "card_count": [1] * n,
            "recorded_at": [date(2026, 2, 1)] * n,
        }
    )


def test_hash_collisions_never_make_a_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row hashing alike makes every row a suspect; the decision on real values still finds none."""
    frame = transactions(20)
    monkeypatch.setattr(duplicates, "_row_hashes", lambda raw, columns: pl.Series([7] * raw.height, dtype=pl.UInt64))
    result = validate_frame(frame, PREPAID_TRANSACTIONS, as_of=AS_OF, chunk_rows=3)
    assert result.quarantined.height == 0 and result.accepted.equals(frame)


def test_a_re_sent_row_and_a_conflicting_key_are_found_across_chunks() -> None:
    frame = transactions(20)
    delivered = pl.concat([frame, frame[[2]], frame[[4]].with_columns(pl.lit(1.0).alias("amount"))])
    result = validate_frame(delivered, PREPAID_TRANSACTIONS, as_of=AS_OF, chunk_rows=4)
    assert result.quarantined.select("_row", "_reasons").rows() == [
        (4, "conflicting_key"),
        (20, "duplicate_row"),
        (21, "conflicting_key"),
    ]


def test_a_rule_giving_no_boolean_stops_the_run() -> None:
    from dataclasses import replace

    from features.contracts import RowRule

    odd = replace(COMPLAINTS, name="complaints_odd_rule", rules=(RowRule("odd", "not a test", lambda: pl.lit(1)),))
    with pytest.raises(BlockingFailure) as caught:
        validate_frame(pl.DataFrame(complaint_rows(3)), odd, as_of=AS_OF)
    assert caught.value.code == "rule_error" and "'odd'" in caught.value.message


def test_a_file_rewritten_during_validation_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "complaints.parquet"
    pl.DataFrame(complaint_rows(5)).write_parquet(path)
    delivery = read_delivery(path, COMPLAINTS)
    delivery.check_unchanged()
    pl.DataFrame(complaint_rows(6)).write_parquet(path)
    with pytest.raises(BlockingFailure) as caught:
        delivery.check_unchanged()
    assert caught.value.code == "changed_during_validation" and "complaints.parquet" in caught.value.message


def test_a_parquet_writer_that_fails_publishes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    schema = pl.Schema({"a": pl.Int64, "b": pl.String})
    with pytest.raises(RuntimeError), parquet_writer(target, schema) as write:
        write(pl.DataFrame({"a": [1], "b": ["x"]}))
        raise RuntimeError("crash mid-table")
    assert list(tmp_path.iterdir()) == []
    with parquet_writer(target, schema) as write:
        write(pl.DataFrame({"b": ["x"], "a": [1]}))  # columns are written in schema order
        write(pl.DataFrame({"a": [2], "b": [None]}, schema=schema))
    assert pl.read_parquet(target).rows() == [(1, "x"), (2, None)]


def test_a_failed_background_write_is_raised_and_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import pyarrow.parquet as pq

    def disk_full(self: object, table: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device (injected)")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", disk_full)
    target = tmp_path / "t.parquet"
    with pytest.raises(OSError, match="No space left"), parquet_writer(target, pl.Schema({"a": pl.Int64})) as write:
        write(pl.DataFrame({"a": [1]}))
    assert list(tmp_path.iterdir()) == []
