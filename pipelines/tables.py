"""Finding validated tables for a theme: an existing validation, a delivery to validate, or a synthetic world."""

from __future__ import annotations

import errno
import importlib
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from features.dataset_validation import REPORT_FILE, DatasetValidation, accepted_dir, validate_dataset
from features.loading import file_sha256
from features.store import TableStore
from pipelines import settings
from pipelines.console import console, print_validation
from risk_models.spec import ThematicModelSpec

SMALL_WORLD_SHARE = 0.25  # `theme check` trains on a quarter-size world: fast, still enough positives
# A read that failed with one of these may succeed a moment later (a network share or a busy disk), unlike a missing,
# forbidden or damaged file; they are retried a bounded number of times with a growing pause (RELIABILITY R9).
TRANSIENT_ERRNOS = frozenset({errno.EIO, errno.EAGAIN, errno.EINTR, errno.EBUSY, errno.ETIMEDOUT, errno.ESTALE})
READ_ATTEMPTS = 3
READ_BACKOFF_SECONDS = 0.5  # pauses 0.5 s, then 1 s


def generate_theme_world(spec: ThematicModelSpec, out_dir: Path, *, small: bool = False, seed: int = 7) -> Path:
    """Run the theme's synthetic-world generator (`spec.synthetic_world`, "module:function") into `out_dir`."""
    if spec.synthetic_world is None:
        raise SystemExit(f"theme {spec.name} has no synthetic world; pass --data with its delivered tables")
    module_name, function_name = spec.synthetic_world.split(":")
    generate = getattr(importlib.import_module(module_name), function_name)
    kwargs: dict[str, Any] = dict(spec.synthetic_kwargs)
    if small:  # size parameters are named n_<something> by convention
        kwargs = {k: max(500, int(v * SMALL_WORLD_SHARE)) if k.startswith("n_") else v for k, v in kwargs.items()}
    generate(out_dir, seed=seed, progress=not small, **kwargs)
    return out_dir


def validated_folder(data_dir: Path, as_of: date, out_dir: Path | None = None) -> Path:
    """The accepted-tables folder for `data_dir`: reuse a validation of exactly these files, else validate now.

    A corrected feed for the same date has a new sha256, so it is validated again, never served from a stale copy.
    """
    report = data_dir / REPORT_FILE
    if report.exists():  # `data_dir` is itself a validation output
        if not json.loads(report.read_text(encoding="utf-8"))["ok"]:
            raise SystemExit(f"{report} records blocking failures; fix the delivery and validate again")
        return accepted_dir(data_dir)
    target = out_dir or settings.validated_dir(as_of, data_dir)
    if _validated_same_files(target / REPORT_FILE):
        return accepted_dir(target)
    result = _validate_retrying(data_dir, target, as_of)
    print_validation(result)
    if not result.ok:
        sys.exit(1)
    return accepted_dir(target)


def is_transient(error: BaseException | None) -> bool:
    """True for an OSError (or a failure caused by one) whose errno says a retry may succeed."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in TRANSIENT_ERRNOS:
            return True
        error = error.__cause__
    return False


def _validate_retrying(data_dir: Path, target: Path, as_of: date) -> DatasetValidation:
    """Validate a delivery; when reading failed only transiently, pause and validate it again (bounded).

    A retry duplicates nothing: each attempt rewrites the same accepted and quarantine files atomically and the
    report last, and only a clean attempt records the delivery's volume (one entry per date, replaced on rerun).
    """
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            result = validate_dataset(
                data_dir, target, as_of=as_of, history_dir=settings.delivery_history_dir(data_dir), run_gx=False
            )
        except OSError as error:  # raised outside the per-table reading (e.g. hashing a file)
            if attempt == READ_ATTEMPTS or not is_transient(error):
                raise
            problem = str(error)
        else:
            if (
                attempt == READ_ATTEMPTS
                or not result.blocking
                or not all(is_transient(b.__cause__) for b in result.blocking)
            ):
                return result
            problem = "; ".join(b.message for b in result.blocking)
        pause = READ_BACKOFF_SECONDS * 2 ** (attempt - 1)
        console.print(
            f"transient read error (attempt {attempt} of {READ_ATTEMPTS}), retrying in {pause:.1f} s: {problem}",
            markup=False,
        )
        time.sleep(pause)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _validated_same_files(report: Path) -> bool:
    if not report.exists():
        return False
    content = json.loads(report.read_text(encoding="utf-8"))
    tables = content.get("tables", [])
    return (
        bool(content.get("ok"))
        and bool(tables)
        and all(Path(t["source"]).exists() and file_sha256(Path(t["source"])) == t.get("sha256") for t in tables)
    )


def open_validated_tables(
    spec: ThematicModelSpec, data_dir: Path | None, as_of: date, work_dir: Path, *, small: bool = False
) -> TableStore:
    """Validated tables of a theme, from `data_dir` or, when none is given, from a freshly generated world."""
    if data_dir is None:
        console.print(f"generating a synthetic world for {spec.name} in {work_dir}")
        data_dir = generate_theme_world(spec, work_dir / "world", small=small)
        folder = validated_folder(data_dir, as_of, work_dir / "validated")
    else:
        folder = validated_folder(data_dir, as_of)
    return TableStore.from_folder(folder, list(spec.tables))
