"""Validating a whole delivery folder: accepted tables, quarantine files and a report, written crash-safe."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from features.atomic import parquet_writer, write_json_atomic, write_parquet_atomic
from features.contracts import TableContract, registered_contracts
from features.errors import BlockingFailure
from features.loading import check_sender_manifest, find_table_file, read_delivery
from features.validation import CHUNK_ROWS, validate_rows
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
    chunk_rows: int = CHUNK_ROWS,
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
        chunk_rows: rows validated at a time (bounds memory; the output does not depend on it).
    """
    contracts = _contracts_to_check(data_dir, tables)
    result = DatasetValidation(as_of, data_dir, out_dir)
    options = _Options(as_of, tuple(uscc_allowlist), history_dir, frozenset(confirm_volume), chunk_rows)
    for contract in contracts:
        try:
            result.tables.append(_validate_table(data_dir, contract, out_dir, options))
        except BlockingFailure as failure:
            result.blocking.append(failure)
    if run_gx and result.tables:
        validated = {t.table for t in result.tables}
        result.gx = _run_gx([c for c in contracts if c.name in validated], out_dir)
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


@dataclass(frozen=True)
class _Options:
    as_of: date
    uscc_allowlist: tuple[str, ...]
    history_dir: Path | None
    confirm_volume: frozenset[str]
    chunk_rows: int


def _validate_table(data_dir: Path, contract: TableContract, out_dir: Path, options: _Options) -> TableSummary:
    """Validate one delivered table chunk by chunk, streaming its accepted rows into `accepted/<table>.parquet`."""
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
    if options.history_dir is not None:
        history = options.history_dir / f"{contract.name}.jsonl"
        confirmed = contract.name in options.confirm_volume
        check_volume(contract, delivery.height, options.as_of, history, path, confirmed=confirmed)
    # Without a sender manifest to vouch for it, the last row of a CSV that does not end in a newline may have been
    # cut mid-field: it is held.
    held = {delivery.height - 1: TORN_ROW_REASON} if delivery.torn_last_row and not verified else {}
    with parquet_writer(accepted_path(out_dir, contract.name), pl.Schema(contract.schema)) as write_accepted:
        outcome = validate_rows(
            delivery.read,
            delivery.height,
            contract,
            write_accepted,
            as_of=options.as_of,
            path=path,
            uscc_allowlist=options.uscc_allowlist,
            held=held,
            chunk_rows=options.chunk_rows,
        )
        delivery.check_unchanged()  # before the accepted file is published
    write_parquet_atomic(outcome.quarantined, quarantine_path(out_dir, contract.name))
    return TableSummary(
        contract.name,
        str(path),
        delivery.sha256,
        delivery.encoding,
        outcome.delivered,
        outcome.accepted_rows,
        outcome.quarantined.height,
        outcome.reason_counts,
        delivery.schema_diff.extra,
    )


def _run_gx(contracts: list[TableContract], out_dir: Path) -> list[dict[str, Any]]:
    from features.gx_suite import run_suites  # imported late: Great Expectations takes seconds to import

    frames = {c.name: pl.read_parquet(accepted_path(out_dir, c.name)) for c in contracts}
    return [
        vars(report) | {"json_path": str(report.json_path), "html_path": str(report.html_path)}
        for report in run_suites(frames, {c.name: c for c in contracts}, out_dir)
    ]
