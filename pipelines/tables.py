"""Finding validated tables for a theme: an existing validation, a delivery to validate, or a synthetic world."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from features.dataset_validation import REPORT_FILE, accepted_path, validate_dataset
from features.loading import file_sha256
from features.store import TableStore
from pipelines import settings
from pipelines.console import console, print_validation
from risk_models.spec import ThematicModelSpec

SMALL_WORLD_SHARE = 0.25  # `theme check` trains on a quarter-size world: fast, still enough positives


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
        return accepted_path(data_dir, "x").parent
    target = out_dir or settings.validated_dir(as_of, data_dir)
    if _validated_same_files(target / REPORT_FILE):
        return accepted_path(target, "x").parent
    result = validate_dataset(
        data_dir, target, as_of=as_of, history_dir=settings.delivery_history_dir(data_dir), run_gx=False
    )
    print_validation(result)
    if not result.ok:
        sys.exit(1)
    return accepted_path(target, "x").parent


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
