"""Reading delivered files (Parquet or CSV in UTF-8, UTF-8 with BOM, GBK/GB18030) against a table contract."""

from __future__ import annotations

import codecs
import difflib
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from features.contracts import TableContract
from features.errors import BlockingFailure

SENDER_MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SchemaDiff:
    """Delivered columns against the contract. `renamed` guesses which extra column a missing one became."""

    missing: tuple[str, ...]
    extra: tuple[str, ...]
    renamed: dict[str, str]

    @property
    def is_blocking(self) -> bool:
        return bool(self.missing)

    def describe(self) -> str:
        parts = []
        for name in self.missing:
            guess = self.renamed.get(name)
            parts.append(f"missing {name!r}" + (f" (renamed to {guess!r}?)" if guess else ""))
        parts += [f"unexpected {name!r}" for name in self.extra]
        return "; ".join(parts) or "columns match"


@dataclass(frozen=True)
class Delivery:
    """A delivered table (contract columns only, in contract order, as delivered), before row validation.

    A CSV is held in memory (it had to be decoded); a Parquet file is read from disk chunk by chunk through `read`, so
    validating a 50M-row table never holds it whole.
    """

    table: str
    path: Path
    rows: pl.LazyFrame
    height: int
    encoding: str | None
    schema_diff: SchemaDiff
    sha256: str
    torn_last_row: bool
    file_state: tuple[int, int, int]  # inode, size and mtime when the file was hashed

    @property
    def frame(self) -> pl.DataFrame:
        """The whole delivery in memory."""
        return self.read(0, self.height)

    def read(self, offset: int, length: int) -> pl.DataFrame:
        """Rows [offset, offset + length) of the delivery."""
        try:
            return self.rows.slice(offset, length).collect()
        except Exception as exc:  # a damaged data page shows only when it is read
            raise _unreadable(self.table, self.path, exc) from exc

    def check_unchanged(self) -> None:
        """Refuse a file replaced or rewritten while it was validated: its rows were read more than once."""
        if _file_state(self.path) != self.file_state:
            raise BlockingFailure(
                self.table,
                self.path,
                "changed_during_validation",
                "the file changed while it was being validated",
                "let the sender finish writing (write under another name, then rename) and validate again",
            )


def find_table_file(data_dir: Path, contract: TableContract) -> Path | None:
    """The delivered file for a contract: `<name>.parquet` preferred, else `<name>.csv`."""
    for suffix in (".parquet", ".csv"):
        candidate = data_dir / f"{contract.name}{suffix}"
        if candidate.exists():
            return candidate
    return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_delivery(path: Path, contract: TableContract) -> Delivery:
    """Read one delivered file, refusing empty, header-only, undecodable or schema-broken files."""
    if path.stat().st_size == 0:
        raise BlockingFailure(
            contract.name,
            path,
            "empty_file",
            "the file is empty (0 bytes)",
            "ask the sender to re-deliver the file; an empty feed is never treated as 'no events'",
        )
    state = _file_state(path)
    sha = file_sha256(path)
    encoding: str | None = None
    torn = False
    if path.suffix == ".csv":
        raw = path.read_bytes()
        text, encoding = decode_csv_bytes(raw, contract, path)
        frame = _parse_csv(text, contract, path)
        torn = not raw.endswith(b"\n") and frame.height > 0
        rows, columns, height = frame.lazy(), frame.columns, frame.height
    else:
        rows, columns, height = _scan_parquet(path, contract)
    diff = schema_diff(columns, contract)
    if diff.is_blocking:
        raise BlockingFailure(
            contract.name,
            path,
            "missing_columns",
            f"schema differs from the contract: {diff.describe()}",
            f"deliver the columns {contract.column_names} (rename as suggested) or update the table contract",
            column=diff.missing[0],
        )
    if height == 0:
        raise BlockingFailure(
            contract.name,
            path,
            "header_only",
            "the file has a header but no rows",
            "re-deliver the file with its rows; confirm with the sender that the day had data",
        )
    return Delivery(contract.name, path, rows.select(contract.column_names), height, encoding, diff, sha, torn, state)


def decode_csv_bytes(raw: bytes, contract: TableContract, path: Path) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 with BOM, UTF-8, else GB18030 (a superset of GBK and GB2312)."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise BlockingFailure(
        contract.name,
        path,
        "undecodable",
        "the file is neither UTF-8 nor GBK/GB18030",
        "export the file as UTF-8 (or GB18030) CSV",
    )


def _parse_csv(text: str, contract: TableContract, path: Path) -> pl.DataFrame:
    # Every column as text: typing happens in validation, so a bad cell quarantines one row, not the file.
    try:
        frame = pl.read_csv(io.BytesIO(text.encode("utf-8")), infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise BlockingFailure(
            contract.name,
            path,
            "unparseable_csv",
            f"the CSV cannot be parsed ({exc})",
            "check quoting and the delimiter (comma) and re-export",
        ) from exc
    return frame.rename({c: c.strip().lstrip("\ufeff") for c in frame.columns})


def _scan_parquet(path: Path, contract: TableContract) -> tuple[pl.LazyFrame, list[str], int]:
    """The file's rows (not read yet), its column names and its row count (both from the footer)."""
    try:
        rows = pl.scan_parquet(path)
        return rows, rows.collect_schema().names(), rows.select(pl.len()).collect().item()
    except Exception as exc:  # polars raises several types for a damaged file; all mean the same to the sender
        raise _unreadable(contract.name, path, exc) from exc


def _unreadable(table: str, path: Path, exc: Exception) -> BlockingFailure:
    return BlockingFailure(
        table,
        path,
        "unreadable_parquet",
        f"the Parquet file cannot be read ({exc})",
        "re-deliver the file; it is truncated or damaged",
    )


def _file_state(path: Path) -> tuple[int, int, int]:
    status = path.stat()
    return status.st_ino, status.st_size, status.st_mtime_ns


def schema_diff(columns: list[str], contract: TableContract) -> SchemaDiff:
    expected = contract.column_names
    missing = tuple(c for c in expected if c not in columns)
    extra = tuple(c for c in columns if c not in expected)
    renamed = {}
    for name in missing:
        close = difflib.get_close_matches(name, extra, n=1, cutoff=0.5)
        if close:
            renamed[name] = close[0]
    return SchemaDiff(missing, extra, renamed)


def check_sender_manifest(delivery: Delivery, data_dir: Path) -> bool:
    """Compare a delivery with the sender's manifest (row count and sha256), when the sender provides one.

    Parser success proves nothing: a CSV cut mid-file still parses; only the sender's control total can tell.
    Returns True when the manifest vouched for the file, False when there is no manifest entry for it.
    """
    manifest_path = data_dir / SENDER_MANIFEST
    if not manifest_path.exists():
        return False
    entry = json.loads(manifest_path.read_text(encoding="utf-8")).get("tables", {}).get(delivery.table)
    if entry is None:
        return False
    if entry.get("sha256") and entry["sha256"] != delivery.sha256:
        raise BlockingFailure(
            delivery.table,
            delivery.path,
            "manifest_mismatch",
            f"the file's sha256 differs from the sender manifest {manifest_path.name} "
            "(truncated or altered in transit)",
            "re-deliver the file and its manifest together",
        )
    if entry.get("rows") is not None and int(entry["rows"]) != delivery.height:
        raise BlockingFailure(
            delivery.table,
            delivery.path,
            "manifest_row_count",
            f"{delivery.height} rows read, the sender manifest says {entry['rows']}",
            "re-deliver the complete file",
        )
    return True
