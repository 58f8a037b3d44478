"""Validating a whole delivery folder: accepted tables, quarantine files and a report, written crash-safe."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from features.atomic import write_json_atomic, write_parquet_atomic
from features.contracts import TableContract, registered_contracts
from features.errors import BlockingFailure
from features.loading import check_sender_manifest, find_table_file, read_delivery
from features.validation import REASON_SEPARATOR, REASONS, TableValidation, validate_frame
from features.volume import check_volume, record_volume

REPORT_FILE = "validation_report.json"
TORN_ROW_REASON = "possibly_torn_last_row"


@dataclass(frozen=True)
class TableSummary:
    table: str
    source: str
    sha256: str
    encoding: str | None
    delivered: int
    accepted: int
    quarantined: int
    reasons: dict[str, int]
    extra_columns: tuple[str, ...]


@dataclass
class DatasetValidation:
    """What validating a delivery folder produced; `ok` is false when any blocking failure occurred."""

    as_of: date
    data_dir: Path
    out_dir: Path
    tables: list[TableSummary] = field(default_factory=list)
    blocking: list[BlockingFailure] = field(default_factory=list)
    gx: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.blocking

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "data_dir": str(self.data_dir),
            "ok": self.ok,
            "tables": [vars(t) for t in self.tables],
            "blocking": [b.to_dict() for b in self.blocking],
            "great_expectations": self.gx,
        }


def accepted_dir(out_dir: Path) -> Path:
    return out_dir / "accepted"


def accepted_path(out_dir: Path, table: str) -> Path:
    return accepted_dir(out_dir) / f"{table}.parquet"


def quarantine_path(out_dir: Path, table: str) -> Path:
    return out_dir / "quarantine" / f"{table}.parquet"


def validate_dataset(
    data_dir: Path,
    out_dir: Path,
    *,
    as_of: date,
    tables: Iterable[str] | None = None,
    uscc_allowlist: Iterable[str] = (),
    history_dir: Path | None = None,
    confirm_volume: Iterable[str] = (),
    run_gx: bool = True,
) -> DatasetValidation:
    """Validate every table of a delivery folder and write accepted rows, quarantine and the report to `out_dir`.

    Args:
        data_dir: the delivery: `<table>.parquet|csv` files and optionally the sender's `manifest.json`.
        out_dir: where `accepted/`, `quarantine/`, `gx/` and `validation_report.json` (written last) go.
        as_of: the delivery date (dates after it are future dates).
        tables: contract names that must be present; default every registered contract with a file in `data_dir`.
        uscc_allowlist: credit codes accepted despite a failed checksum.
        history_dir: folder of per-table delivery row counts for the volume-collapse check (none: no check).
        confirm_volume: tables whose low volume a person has confirmed.
        run_gx: also run the Great Expectations suites on the accepted rows.
    """
    contracts = _contracts_to_check(data_dir, tables)
    result = DatasetValidation(as_of, data_dir, out_dir)
    accepted: dict[str, TableValidation] = {}
    for contract in contracts:
        try:
            validation, summary = _validate_table(
                data_dir, contract, as_of, uscc_allowlist, history_dir, contract.name in set(confirm_volume)
            )
        except BlockingFailure as failure:
            result.blocking.append(failure)
            continue
        accepted[contract.name] = validation
        result.tables.append(summary)
        write_parquet_atomic(validation.accepted, accepted_path(out_dir, contract.name))
        write_parquet_atomic(validation.quarantined, quarantine_path(out_dir, contract.name))
    if run_gx and accepted:
        result.gx = _run_gx(accepted, {c.name: c for c in contracts}, out_dir)
    if result.ok and history_dir is not None:
        for summary in result.tables:
            record_volume(history_dir / f"{summary.table}.jsonl", as_of, summary.delivered)
    write_json_atomic(result.to_dict(), out_dir / REPORT_FILE)
    return result


def _contracts_to_check(data_dir: Path, tables: Iterable[str] | None) -> list[TableContract]:
    known = registered_contracts()
    if not data_dir.is_dir():
        raise BlockingFailure(
            "*",
            data_dir,
            "missing_folder",
            "the delivery folder does not exist",
            "pass --data with the folder holding the delivered tables",
        )
    if tables is None:
        found = [c for c in known.values() if find_table_file(data_dir, c) is not None]
        if not found:
            raise BlockingFailure(
                "*",
                data_dir,
                "no_tables",
                f"no file named after a known table ({sorted(known)})",
                "name files <table>.parquet or <table>.csv, or declare a contract for them",
            )
        return found
    unknown = sorted(set(tables) - set(known))
    if unknown:
        raise KeyError(f"no table contract named {unknown}; known: {sorted(known)}")
    return [known[name] for name in tables]


def _validate_table(
    data_dir: Path,
    contract: TableContract,
    as_of: date,
    uscc_allowlist: Iterable[str],
    history_dir: Path | None,
    confirmed: bool,
) -> tuple[TableValidation, TableSummary]:
    path = find_table_file(data_dir, contract)
    if path is None:
        raise BlockingFailure(
            contract.name,
            data_dir / f"{contract.name}.parquet",
            "missing_file",
            "the table was not delivered",
            f"deliver {contract.name}.parquet or .csv",
        )
    delivery = read_delivery(path, contract)
    verified = check_sender_manifest(delivery, data_dir)
    if history_dir is not None:
        check_volume(
            contract, delivery.frame.height, as_of, history_dir / f"{contract.name}.jsonl", path, confirmed=confirmed
        )
    validation = validate_frame(delivery.frame, contract, as_of=as_of, path=path, uscc_allowlist=uscc_allowlist)
    if delivery.torn_last_row and not verified:
        validation = _hold_last_row(validation, delivery.frame.height - 1)
    summary = TableSummary(
        contract.name,
        str(path),
        delivery.sha256,
        delivery.encoding,
        validation.delivered,
        validation.accepted.height,
        validation.quarantined.height,
        validation.reason_counts,
        delivery.schema_diff.extra,
    )
    return validation, summary


def _hold_last_row(validation: TableValidation, last_row: int) -> TableValidation:
    """Quarantine the last row of a CSV that does not end in a newline: it may have been cut mid-field."""
    quarantined = validation.quarantined
    if last_row in quarantined["_row"].to_list():
        reasons = pl.when(pl.col("_row") == last_row).then(
            pl.concat_str([pl.col(REASONS), pl.lit(TORN_ROW_REASON)], separator=REASON_SEPARATOR)
        )
        quarantined = quarantined.with_columns(reasons.otherwise(pl.col(REASONS)).alias(REASONS))
        return TableValidation(validation.table, validation.delivered, validation.accepted, quarantined)
    position = validation.accepted.height - 1  # the last delivered row is the last accepted one
    row = validation.accepted.slice(position, 1).select(pl.all().cast(pl.String))
    held = row.with_columns(pl.lit(last_row, dtype=pl.UInt32).alias("_row"), pl.lit(TORN_ROW_REASON).alias(REASONS))
    quarantined = pl.concat([quarantined, held.select(quarantined.columns)])
    return TableValidation(validation.table, validation.delivered, validation.accepted.slice(0, position), quarantined)


def _run_gx(
    validations: dict[str, TableValidation], contracts: dict[str, TableContract], out_dir: Path
) -> list[dict[str, Any]]:
    from features.gx_suite import run_suites  # imported late: Great Expectations takes seconds to import

    frames = {name: v.accepted for name, v in validations.items()}
    return [
        vars(report) | {"json_path": str(report.json_path), "html_path": str(report.html_path)}
        for report in run_suites(frames, contracts, out_dir)
    ]
