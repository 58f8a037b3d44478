"""Nightly runs in their own processes, for the reliability tests: each may be SIGKILLed at any point.

Two ways to start one:

    python nightly_worker.py THEME DATA_DIR DATE[:POINT] [DATE[:POINT] ...]
        runs `run_theme(RunRequest(...))` for each date in order, in the workspace `$RISKGEN_HOME`, with the champion
        of the registry there, in this (fresh) interpreter. Events go to stdout.

    python nightly_worker.py --zygote
        imports the pipeline once, then reads one JSON request per stdin line and answers one JSON line on stdout:
        {"spawn": {"home", "theme", "data_dir", "plan", "fault", "go_file", "events", "log", "dossier_top"}} forks a
        child that runs the plan exactly as above (its own pid, its own model load, killed like any process) and
        answers {"pid": ...}; {"wait": pid} reaps that child and answers {"pid": ..., "returncode": ...} (-9 for
        SIGKILL). A fresh interpreter costs ~5-10 s of imports on a loaded 2-core machine; a fork costs milliseconds.
        Nothing runs a polars query or LightGBM before the fork (their thread pools must not exist in the parent).

`POINT` (or the fault for dates without one) is where the process SIGKILLs itself:

- a stage name (features, score, list, explain, outputs, dossiers, publish): the real hook of `RunContext.stage`,
  through `$RISKGEN_FAULT_AT`;
- `manifest_written`: the manifest is in the staging folder, the folder is not renamed yet;
- `renamed`: the run folder is in place, its parent not fsynced, the ledger not updated, nothing pushed;
- `pushing`: inside the push transaction, after the warnings upsert, before the run record (uncommitted).

Events (JSON lines): `ready` once the model is loaded (then, with a go file, the process waits for it to exist, so
two processes start the same date at the same moment), `start` before each date, `done` after it.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from datetime import date
from pathlib import Path
from typing import Any, TextIO

STAGE_POINTS = ("features", "score", "list", "explain", "outputs", "dossiers", "publish")
EXTRA_POINTS = ("manifest_written", "renamed", "pushing")
FAULT_ENV = "RISKGEN_FAULT_AT"
DEFAULT_DOSSIER_TOP = 20
GO_TIMEOUT = 120.0  # seconds a worker waits for its go file

_armed: str | None = None  # the extra point armed for the current date


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _install_extra_points() -> None:
    """Wrap the library functions at the extra kill points (only in this process)."""
    import sqlalchemy.dialects.sqlite as sqlite_dialect

    import pipelines.runs as runs
    import review.db as review_db

    write_json_atomic, fsync_dir, sqlite_insert = runs.write_json_atomic, runs.fsync_dir, sqlite_dialect.insert

    def write_json(payload: Any, target: Path) -> Path:
        written = write_json_atomic(payload, target)
        if _armed == "manifest_written" and target.name == runs.MANIFEST:
            _die()
        return written

    def sync_dir(folder: Path) -> None:
        if _armed == "renamed":
            _die()
        fsync_dir(folder)

    def insert(table: Any) -> Any:
        if _armed == "pushing" and table is review_db.published_runs:
            _die()
        return sqlite_insert(table)

    runs.write_json_atomic = write_json  # type: ignore[assignment]
    runs.fsync_dir = sync_dir  # type: ignore[assignment]
    sqlite_dialect.insert = insert  # type: ignore[assignment]


PRELOADED = (
    "model_registry.registry",
    "pipelines.nightly",
    "pipelines.dossiers",
    "pipelines.explaining",
    "pipelines.exports",
    "review.db",
    "risk_models.dossier",
    "risk_models.explain",
    "sqlalchemy.dialects.sqlite",
    "xlsxwriter",
)


def _import_pipeline() -> None:
    """Import everything a run needs (no computation: safe to fork afterwards)."""
    for name in PRELOADED:
        importlib.import_module(name)


def run_plan(
    theme: str, data_dir: Path, plan: list[str], events: TextIO, *, fault: str | None, go_file: str | None, top: int
) -> None:
    """Load the champion from `$RISKGEN_HOME`'s registry and run each `DATE[:POINT]` of the plan in order."""
    global _armed
    from model_registry.registry import Registry
    from pipelines import settings
    from pipelines.console import console
    from pipelines.nightly import RunRequest, run_theme
    from risk_models.themes import load_theme

    def emit(event: str, **fields: Any) -> None:
        events.write(json.dumps({"event": event, "pid": os.getpid(), **fields}) + "\n")
        events.flush()

    console.file = sys.stderr  # validation tables go to the log; the events stay clean
    spec = load_theme(theme)
    model = Registry.open(settings.registry_uri()).load(spec.name, "champion")
    _install_extra_points()
    emit("ready")
    give_up = time.monotonic() + GO_TIMEOUT
    while go_file and not Path(go_file).exists():
        if time.monotonic() > give_up:  # the test that would have said go has failed: do not linger
            raise SystemExit(f"no {go_file} after {GO_TIMEOUT} s")
        time.sleep(0.002)
    for item in plan:
        day, _, point = item.partition(":")
        point = point or fault or ""
        if point and point not in STAGE_POINTS + EXTRA_POINTS:
            raise SystemExit(f"unknown kill point {point!r}")
        os.environ.pop(FAULT_ENV, None)
        if point in STAGE_POINTS:
            os.environ[FAULT_ENV] = point
        _armed = point if point in EXTRA_POINTS else None
        emit("start", as_of=day, point=point or None)
        started = time.perf_counter()
        outcome = run_theme(RunRequest(spec, date.fromisoformat(day), data_dir, model, dossier_top=top))
        emit(
            "done",
            as_of=day,
            published=outcome.published,
            pushed=outcome.pushed,
            run_dir=str(outcome.run_dir),
            seconds=round(time.perf_counter() - started, 3),
        )


def _spawn(request: dict[str, Any]) -> int:
    """Fork a child that runs one request; the parent returns its pid at once."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:  # the child: its own log as stdout/stderr, no stdin (the requests are the zygote's)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.environ["RISKGEN_HOME"] = request["home"]
        os.environ.pop(FAULT_ENV, None)
        with open(request["events"], "a", encoding="utf-8") as events:
            run_plan(
                request["theme"],
                Path(request["data_dir"]),
                list(request["plan"]),
                events,
                fault=request.get("fault"),
                go_file=request.get("go_file"),
                top=int(request.get("dossier_top") or DEFAULT_DOSSIER_TOP),
            )
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # never run the zygote's own exit handlers in a child


def zygote() -> int:
    _import_pipeline()
    pools = [
        t
        for t in os.listdir("/proc/self/task")
        if _thread_name(t).startswith("polars-") and "ooc" not in _thread_name(t)
    ]
    if pools:  # a polars thread pool started by an import would not exist in the children
        raise SystemExit("the polars thread pool is running before fork; fix _import_pipeline")
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "spawn" in request:
            answer: dict[str, Any] = {"pid": _spawn(request["spawn"])}
        else:
            pid, status = os.waitpid(int(request["wait"]), 0)
            answer = {"pid": pid, "returncode": os.waitstatus_to_exitcode(status)}
        print(json.dumps(answer), flush=True)
    return 0


def _thread_name(task: str) -> str:
    try:
        return Path(f"/proc/self/task/{task}/comm").read_text().strip()
    except OSError:
        return ""


def main(argv: list[str]) -> int:
    if argv == ["--zygote"]:
        return zygote()
    theme, data_dir, *plan = argv
    fault = os.environ.pop(FAULT_ENV, None) or None
    top = int(os.environ.get("RISKGEN_WORKER_DOSSIER_TOP", str(DEFAULT_DOSSIER_TOP)))
    run_plan(
        theme, Path(data_dir), plan, sys.stdout, fault=fault, go_file=os.environ.get("RISKGEN_WORKER_GO_FILE"), top=top
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
