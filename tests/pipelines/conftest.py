"""One small prepaid world with a promoted champion per session, and a workspace per test to run nightlies in.

The champion is trained with the theme's real SPEC (1,500 firms: ~20 s) because the nightly refuses a champion whose
spec hash differs from the theme's (`check_champion_spec`), and the worker process and the Prefect flow load the
theme by name. Each test gets its own RISKGEN_HOME holding a copy of the registry, so runs never interfere.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

THEME = "prepaid_cards"
WORLD_END = date(2026, 6, 30)  # the synthetic world ends here; the champion is trained with this cutoff
DOSSIER_TOP = 20  # dossiers per run in these tests (fewer pages, same code path)
WORKER = Path(__file__).with_name("nightly_worker.py")
# Outputs that must be byte-identical between two runs of the same date on the same inputs.
DETERMINISTIC = ("warnings.parquet", "scores.parquet", "features.parquet", "contributions.parquet")
# Members of an .xlsx that carry the time of writing (xlsxwriter stamps docProps/core.xml with "created").
XLSX_TIME_MEMBERS = ("docProps/core.xml",)
# Never inherited by a workspace or a worker: each test sets its own.
CLEARED_ENV = ("MLFLOW_TRACKING_URI", "RISKGEN_REVIEW_DB", "RISKGEN_FAULT_AT", "RISKGEN_WORKER_GO_FILE")


@dataclass(frozen=True)
class NightlyWorld:
    """The generated delivery folder and the workspace holding the registry with the promoted champion."""

    world: Path
    home: Path
    model: Any  # model_registry.LoadedModel
    seconds: dict[str, float]


@pytest.fixture(scope="session")
def nightly_world(tmp_path_factory: pytest.TempPathFactory) -> NightlyWorld:
    from features.synthetic import generate_world
    from model_registry.registry import Registry
    from pipelines import settings
    from pipelines.commands.models import train_and_register
    from risk_models.themes import load_theme

    root = tmp_path_factory.mktemp("nightly-world")
    seconds = {}
    started = time.perf_counter()
    generate_world(root / "world", n_enterprises=1500, progress=False)
    seconds["world"] = time.perf_counter() - started
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RISKGEN_HOME", str(root / "home"))
        for name in CLEARED_ENV:
            patch.delenv(name, raising=False)
        started = time.perf_counter()
        version = train_and_register(load_theme(THEME), root / "world", WORLD_END, register=True)
        seconds["train"] = time.perf_counter() - started
        registry = Registry.open(settings.registry_uri())
        registry.promote(THEME, int(version or 0), who="tests", why="champion of the nightly reliability tests")
        model = registry.load(THEME, "champion")
    print(f"\nfixture world: generated in {seconds['world']:.1f} s, champion trained in {seconds['train']:.1f} s")
    return NightlyWorld(root / "world", root / "home", model, seconds)


@dataclass(frozen=True)
class WorkerResult:
    returncode: int
    events: list[dict[str, Any]]
    stderr: str

    @property
    def killed(self) -> bool:
        return self.returncode == -9

    def done(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "done"]


class Worker:
    """A nightly_worker.py run in its own process: its events as they come, its exit code, a SIGKILL from outside."""

    pid: int
    log: Path

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.finished = False

    def next_event(self, timeout: float = 300) -> dict[str, Any] | None:
        """Block until the next event (None once the process has ended and every event was read)."""
        raise NotImplementedError

    def _exit_code(self, timeout: float) -> int:
        raise NotImplementedError

    def finish(self, timeout: float = 300) -> WorkerResult:
        while self.next_event(timeout) is not None:
            pass
        returncode = self._exit_code(timeout)
        self.finished = True
        return WorkerResult(returncode, self.events, self.log.read_text(encoding="utf-8", errors="replace")[-3000:])

    def kill(self) -> None:
        """SIGKILL the worker (a no-op once it has ended: its pid is never signalled after it was reaped)."""
        raise NotImplementedError


class FreshWorker(Worker):
    """A fresh interpreter (`python nightly_worker.py THEME DATA_DIR DATE...`), events on its stdout."""

    def __init__(self, process: subprocess.Popen[str], log: Path) -> None:
        super().__init__()
        self.process, self.pid, self.log = process, process.pid, log

    def next_event(self, timeout: float = 300) -> dict[str, Any] | None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith('{"event"'):
                event: dict[str, Any] = json.loads(line)
                self.events.append(event)
                return event
        return None

    def _exit_code(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        self.process.kill()  # Popen never signals a process it has already reaped


class ForkedWorker(Worker):
    """A child forked by the zygote (same code, its own process), events appended to a file."""

    def __init__(self, zygote: Zygote, pid: int, events: Path, log: Path) -> None:
        super().__init__()
        self.zygote, self.pid, self.log = zygote, pid, log
        self._file = open(events, encoding="utf-8")  # noqa: SIM115  (tailed until the child ends)
        self._partial = ""

    def _read_event(self) -> dict[str, Any] | None:
        chunk = self._file.readline()
        if not chunk:
            return None
        self._partial += chunk
        if not self._partial.endswith("\n"):
            return None  # the rest of the line is still being written
        line, self._partial = self._partial, ""
        event: dict[str, Any] = json.loads(line)
        self.events.append(event)
        return event

    def _ended(self) -> bool:
        """True once the child is a zombie (ended, not yet reaped by the zygote)."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return True
        return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")

    def next_event(self, timeout: float = 300) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while True:
            event = self._read_event()
            if event is not None:
                return event
            if self._ended():
                return self._read_event()  # a last line written just before the end
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker {self.pid}: no event for {timeout} s")
            time.sleep(0.005)

    def _exit_code(self, timeout: float) -> int:
        self._file.close()
        return int(self.zygote.request({"wait": self.pid})["returncode"])

    def kill(self) -> None:
        # Only our child: until the zygote reaps it (in finish) its pid cannot be reused by another process.
        if self.finished or self.zygote.process is None:
            return
        try:
            ppid = int(Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            return
        if ppid == self.zygote.process.pid:
            os.kill(self.pid, signal.SIGKILL)


class Zygote:
    """`nightly_worker.py --zygote`, started once per session on first use: imports once, forks a child per run."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.ready = False
        self.lock = threading.Lock()

    def start(self) -> None:
        """Start the zygote without waiting for its imports (they overlap with whatever comes next)."""
        with self.lock:
            if self.process is None:
                env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
                self.process = subprocess.Popen(
                    [sys.executable, str(WORKER), "--zygote"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=env,
                )

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        self.start()
        with self.lock:
            assert self.process is not None and self.process.stdin is not None and self.process.stdout is not None
            if not self.ready:
                ready = self.process.stdout.readline()
                assert ready.startswith('{"ready"'), f"the zygote did not start: {ready!r}"
                self.ready = True
            self.process.stdin.write(json.dumps(payload) + "\n")
            self.process.stdin.flush()
            answer: dict[str, Any] = json.loads(self.process.stdout.readline())
            return answer

    def close(self) -> None:
        if self.process is not None and self.process.stdin is not None:
            self.process.stdin.close()
            self.process.wait(timeout=60)


@pytest.fixture(scope="session")
def zygote() -> Iterator[Zygote]:
    holder = Zygote()
    yield holder
    holder.close()


@dataclass
class Nightly:
    """Runs and inspections in one test's workspace."""

    home: Path
    world: Path
    model: Any
    zygote: Zygote | None = None
    workers: list[Worker] = field(default_factory=list)

    @property
    def theme_dir(self) -> Path:
        return self.home / "runs" / THEME

    def final(self, as_of: date) -> Path:
        return self.theme_dir / as_of.isoformat()

    def run(self, as_of: date, data_dir: Path | None = None, **kwargs: Any) -> Any:
        """run_theme in this process (a rerun after a killed worker, or a clean run)."""
        from pipelines.nightly import RunRequest, run_theme
        from risk_models.themes import load_theme

        kwargs.setdefault("dossier_top", DOSSIER_TOP)
        return run_theme(RunRequest(load_theme(THEME), as_of, data_dir or self.world, self.model, **kwargs))

    def start_worker(
        self,
        plan: list[str],
        *,
        fault: str | None = None,
        go_file: Path | None = None,
        data_dir: Path | None = None,
        fresh: bool = False,
    ) -> Worker:
        """Start a nightly run of `plan` (items `YYYY-MM-DD[:point]`) in this workspace, in its own process.

        By default the process is forked by the session's zygote (milliseconds); `fresh` starts a new interpreter.
        """
        logs = self.home / "worker-logs"
        logs.mkdir(parents=True, exist_ok=True)
        stem = logs / f"{time.monotonic_ns()}"
        log = stem.with_suffix(".log")
        log.touch()
        if not fresh:
            assert self.zygote is not None, "this workspace has no zygote"
            events = stem.with_suffix(".events")
            events.touch()
            spawn = {
                "home": str(self.home),
                "theme": THEME,
                "data_dir": str(data_dir or self.world),
                "plan": plan,
                "fault": fault,
                "go_file": str(go_file) if go_file else None,
                "events": str(events),
                "log": str(log),
                "dossier_top": DOSSIER_TOP,
            }
            forked = ForkedWorker(self.zygote, int(self.zygote.request({"spawn": spawn})["pid"]), events, log)
            self.workers.append(forked)
            return forked
        env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
        env |= {"RISKGEN_HOME": str(self.home), "RISKGEN_WORKER_DOSSIER_TOP": str(DOSSIER_TOP)}
        env |= {"RISKGEN_FAULT_AT": fault} if fault else {}
        env |= {"RISKGEN_WORKER_GO_FILE": str(go_file)} if go_file else {}
        with open(log, "w", encoding="utf-8") as stderr:
            process = subprocess.Popen(
                [sys.executable, str(WORKER), THEME, str(data_dir or self.world), *plan],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
            )
        self.workers.append(FreshWorker(process, log))
        return self.workers[-1]

    def stop_workers(self) -> None:
        """Kill and reap the workers a failed test left running."""
        for worker in self.workers:
            if not worker.finished:
                worker.kill()
                with contextlib.suppress(Exception):
                    worker.finish(timeout=60)

    def run_worker(
        self, plan: list[str], *, fault: str | None = None, fresh: bool = False, timeout: float = 300
    ) -> WorkerResult:
        return self.start_worker(plan, fault=fault, fresh=fresh).finish(timeout)

    def review(self, as_of: date | None = None) -> dict[str, Any]:
        """What the review database holds: warning rows, duplicate keys, published_runs records, distinct pushes."""
        path = self.home / "review" / "review.db"
        empty = {"rows": 0, "duplicate_keys": 0, "published_runs": [], "push_times": 0}
        if not path.exists():
            return empty
        where, args = ("WHERE as_of = ?", (as_of.isoformat(),)) if as_of else ("", ())
        with sqlite3.connect(path) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "warnings" not in tables:
                return empty
            rows = db.execute(f"SELECT COUNT(*) FROM warnings {where}", args).fetchone()[0]
            duplicates = db.execute(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM warnings {where} "
                "GROUP BY theme, as_of, entity_id HAVING COUNT(*) > 1)",
                args,
            ).fetchone()[0]
            runs = db.execute(
                f"SELECT as_of, manifest_sha256, rows, pushed_at FROM published_runs {where} ORDER BY as_of", args
            ).fetchall()
            push_times = db.execute(f"SELECT COUNT(DISTINCT pushed_at) FROM warnings {where}", args).fetchone()[0]
        return {"rows": rows, "duplicate_keys": duplicates, "published_runs": runs, "push_times": push_times}

    def ledger(self, as_of: date | None = None) -> list[dict[str, Any]]:
        from pipelines.ledger import Ledger

        rows = Ledger(self.home / "state" / "ledger.db").history(THEME)
        return [r for r in rows if as_of is None or r["as_of"] == as_of.isoformat()]

    def staging_leftovers(self) -> list[str]:
        staging = self.theme_dir / ".staging"
        return sorted(p.name for p in staging.iterdir()) if staging.exists() else []

    def visible(self, as_of: date) -> list[str]:
        """Every file a reader could see under runs/<theme>/<date> (empty when the folder does not exist)."""
        final = self.final(as_of)
        return sorted(str(p.relative_to(final)) for p in final.rglob("*") if p.is_file()) if final.exists() else []

    def manifest(self, as_of: date) -> dict[str, Any]:
        from pipelines.runs import read_manifest

        return read_manifest(self.final(as_of))

    @staticmethod
    def differing_outputs(run_dir: Path, reference_dir: Path) -> dict[str, list[str]]:
        """Files of two published runs whose sha256 differ, split into deterministic-by-design ones and the rest.

        An .xlsx counts as equal when every zip member but its time stamp (docProps/core.xml) is byte-identical.
        """
        from pipelines.runs import read_manifest

        ours, theirs = read_manifest(run_dir)["files"], read_manifest(reference_dir)["files"]
        differ = sorted(n for n in ours.keys() | theirs.keys() if ours.get(n) != theirs.get(n))
        result: dict[str, list[str]] = {"deterministic": [], "time_stamped": [], "other": []}
        for name in differ:
            if name in DETERMINISTIC:
                result["deterministic"].append(name)
            elif (
                name.endswith(".xlsx")
                and name in ours
                and name in theirs
                and Nightly._same_xlsx(run_dir / name, reference_dir / name)
            ):
                result["time_stamped"].append(name)
            else:
                result["other"].append(name)
        return result

    @staticmethod
    def _same_xlsx(a: Path, b: Path) -> bool:
        with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
            names = sorted(set(za.namelist()) - set(XLSX_TIME_MEMBERS))
            if names != sorted(set(zb.namelist()) - set(XLSX_TIME_MEMBERS)):
                return False
            return all(za.read(n) == zb.read(n) for n in names)


def _workspace(world: NightlyWorld, home: Path, patch: pytest.MonkeyPatch, zygote: Zygote | None = None) -> Nightly:
    shutil.copytree(world.home / "mlflow", home / "mlflow")
    patch.setenv("RISKGEN_HOME", str(home))
    for name in CLEARED_ENV:
        patch.delenv(name, raising=False)
    return Nightly(home, world.world, world.model, zygote)


@pytest.fixture
def nightly(
    nightly_world: NightlyWorld, zygote: Zygote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Nightly]:
    """A fresh workspace (RISKGEN_HOME) with a copy of the registry; runs of other tests never show here."""
    workspace = _workspace(nightly_world, tmp_path / "home", monkeypatch, zygote)
    yield workspace
    workspace.stop_workers()


@dataclass(frozen=True)
class CleanRun:
    """An uninterrupted run of WORLD_END in a workspace of its own: what every rerun must reproduce."""

    run_dir: Path
    listed: int
    seconds: float


@pytest.fixture(scope="session")
def clean_run(nightly_world: NightlyWorld, tmp_path_factory: pytest.TempPathFactory) -> CleanRun:
    with pytest.MonkeyPatch.context() as patch:
        workspace = _workspace(nightly_world, tmp_path_factory.mktemp("clean-run") / "home", patch)
        started = time.perf_counter()
        outcome = workspace.run(WORLD_END)
        seconds = time.perf_counter() - started
    assert outcome.published
    return CleanRun(outcome.run_dir, int(outcome.summary["listed"]), seconds)
