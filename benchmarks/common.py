"""Benchmark helpers: run a function in a fresh interpreter and measure it, print tables, save results as JSON.

`run_isolated(func, *args)` starts a new Python process (nothing inherited: no warm caches, no memory already held
by the parent), imports the file that defines `func`, calls it, and returns the call's wall time and the child's peak
resident set size. The peak comes from `os.wait4`, i.e. the kernel's `ru_maxrss` of exactly that child (it includes
the interpreter and imported libraries; `baseline_rss_mib` is the RSS just before the call, for reference).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "workspace" / "bench"  # generated worlds, validated folders and homes, reused across runs
RESULTS = Path(__file__).resolve().parent / "results"

_CHILD = """
import importlib.util, json, os, resource, sys, time
sys.path.insert(0, {root!r})
import psutil
for name in {preload!r}:
    importlib.import_module(name)
spec = importlib.util.spec_from_file_location("_bench_target", {file!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
func = getattr(module, {name!r})
args = json.loads({args!r})
baseline = psutil.Process().memory_info().rss
began, cpu = time.perf_counter(), time.process_time()
info = func(*args)
seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
with open({out!r}, "w") as handle:
    json.dump({{"seconds": seconds, "cpu": cpu, "baseline": baseline, "peak": peak, "info": info}}, handle, default=str)
"""


@dataclass
class Measurement:
    """One isolated run.

    Attributes:
        label: what was run.
        seconds: wall time of the call itself (imports and interpreter start excluded).
        cpu_seconds: CPU time (user + system, all threads) of the call: less sensitive to other load than wall time.
        wall_seconds: wall time of the whole child process.
        peak_rss_mib: the child's peak RSS (MiB).
        baseline_rss_mib: the child's RSS after imports, just before the call (MiB).
        load_before: 1-minute load average just before the child started.
        info: whatever the function returned (JSON-able).
    """

    label: str
    seconds: float
    cpu_seconds: float
    wall_seconds: float
    peak_rss_mib: float
    baseline_rss_mib: float
    load_before: float
    info: Any = field(default=None)


def run_isolated(
    func: Callable[..., Any],
    *args: Any,
    env: Mapping[str, str] | None = None,
    preload: Sequence[str] = (),
    label: str | None = None,
    rss_limit_mib: float | None = None,
) -> Measurement:
    """Call `func(*args)` in a fresh Python process and measure it.

    `func` must be a module-level function of an importable file; `args` and its return value must be JSON-able.
    `env` adds environment variables for the child (e.g. `POLARS_MAX_THREADS`); `preload` names modules imported
    before the clock starts (so library import time is not counted). The child's output goes to ours.
    With `rss_limit_mib` the child is killed once its RSS exceeds the limit, or the machine runs short of memory
    (it is shared), and `MemoryLimitExceeded` is raised.
    """
    file = inspect.getfile(func)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = str(Path(tmp) / "result.json")
        code = _CHILD.format(
            root=str(ROOT), preload=list(preload), file=file, name=func.__name__, args=json.dumps(args), out=out
        )
        load = os.getloadavg()[0]
        began = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **(env or {})})
        killed = _watch(child.pid, rss_limit_mib) if rss_limit_mib else False
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        if killed:
            raise MemoryLimitExceeded(
                f"{label or func.__name__}: killed at RSS above {rss_limit_mib:,.0f} MiB or low system memory"
            )
        if child.returncode != 0:
            raise RuntimeError(f"{label or func.__name__} failed in its subprocess (exit {child.returncode})")
        result = json.loads(Path(out).read_text())
    peak = max(usage.ru_maxrss * 1024, result["peak"])  # ru_maxrss is in KiB on Linux
    return Measurement(
        label=label or func.__name__,
        seconds=result["seconds"],
        cpu_seconds=result["cpu"],
        wall_seconds=wall,
        peak_rss_mib=peak / 2**20,
        baseline_rss_mib=result["baseline"] / 2**20,
        load_before=load,
        info=result["info"],
    )


class MemoryLimitExceeded(RuntimeError):
    """The measured child grew beyond the allowed RSS and was killed."""


def _watch(pid: int, limit_mib: float, every: float = 0.2) -> bool:
    """Poll the child's RSS until it exits; kill it (and return True) once it exceeds `limit_mib`."""

    try:
        process = psutil.Process(pid)
        while process.status() != psutil.STATUS_ZOMBIE:
            if process.memory_info().rss > limit_mib * 2**20:
                process.kill()
                return True
            time.sleep(every)
    except psutil.NoSuchProcess:
        pass
    return False


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} cores)"


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, title: str = "") -> None:
    """Print rows of dicts as an aligned text table (floats with 2 decimals, ints with thousands separators)."""
    if not rows:
        return
    columns = list(columns or rows[0].keys())

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.2f}"
        return str(value)

    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(isinstance(row.get(c), int | float) or row.get(c) is None for row in rows) for c in columns]
    if title:
        print(f"\n{title}")
    print("  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(columns, widths, numeric, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(row, widths, numeric, strict=True)))


def write_results(name: str, payload: Mapping[str, Any]) -> Path:
    """Save `payload` (measurements become dicts) as benchmarks/results/<name>.json; returns the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"

    def convert(value: Any) -> Any:
        if isinstance(value, Measurement):
            return asdict(value)
        return str(value)

    path.write_text(json.dumps(payload, indent=2, default=convert, ensure_ascii=False) + "\n")
    return path
