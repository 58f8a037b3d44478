"""The warm nightly run, single-process against sharded on 1 and 2 Dask workers (issue #8, scale-out).

    flock /tmp/riskgen-1m.lock python benchmarks/bench_dask.py --enterprises 1000000 --dask-workers 0 1 2
    python benchmarks/bench_dask.py --enterprises 100000 --dask-workers 0 2 --shards-per-worker 2

Same workspace, champion and validated delivery as bench_nightly.py (workspace/bench/home-<N>/, the champion trained
on `--champion-from`, the validated copy of world-<N> seeded by hard links), and the same reset before each run (no
run folder, ledger, lock or review database: the run is never a no-op). Every run is the Prefect flow `score_theme`
in a fresh child process (Prefect's temporary API server included, as for a bare `riskgen nightly`):

  workers 0: no Dask, the single-process run (the reference);
  workers W: a `distributed.LocalCluster` of W worker processes (one thread each) is started by this script before
             the clock starts, its workers import the libraries a shard task needs (as a long-running cluster's
             have; start-up and imports are reported apart), and the flow runs on Prefect's DaskTaskRunner
             at its address with `W x --shards-per-worker` shards; the cluster is closed after the run.

Reported per run: wall seconds of the flow call; per-stage seconds from the manifest; CPU seconds of the driver (the
child) and of each worker process (user + system, from the worker's own getrusage, after minus before); peak RSS
of the driver (the child's ru_maxrss) and of each worker (its ru_maxrss, read on the worker through `client.run`);
and whether features/scores/contributions/warnings.parquet are byte-identical (sha256 in the manifests) to the
single-process run's. The machine is shared: read the load column. Results: benchmarks/results/bench_dask-world-<N>
[-<tag>].json.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_nightly import (
    AS_OF,
    THEME,
    _track_stage_peaks,
    child_env,
    ensure_champion,
    home_dir,
    reset_runs,
    seed_validated,
)
from benchmarks.bench_train import world_dir
from benchmarks.common import Measurement, MemoryLimitExceeded, load_average, print_table, run_isolated, write_results

STAGES = ("validate", "features", "score", "list", "explain", "outputs", "dossiers", "publish")
COMPARED = ("features.parquet", "scores.parquet", "contributions.parquet", "warnings.parquet", "peers.parquet")
MODULES = (
    "numpy",
    "polars",
    "lightgbm",
    "mlflow",
    "prefect",
    "prefect_dask",
    "distributed",
    "model_registry.registry",
    "pipelines.flows",
    "pipelines.scale_out",
    "pipelines.explaining",
    "pipelines.dossiers",
    "features.dataset_validation",
    "review.db",
)


# --- run in the child process (arguments and result are JSON) ------------------------------------------------------


def flow_run(data_dir: str, as_of: str, dossier_top: int, address: str | None, shards: int) -> dict[str, Any]:
    """The flow `score_theme`, on the Dask scheduler at `address` (sharded) or without Dask (address None)."""
    from pipelines.flows import dask_task_runner, score_theme
    from pipelines.runs import read_manifest

    peaks = _track_stage_peaks()
    flow = score_theme.with_options(task_runner=dask_task_runner(address)) if address else score_theme
    result = flow(THEME, date.fromisoformat(as_of), data_dir=data_dir, dossier_top=dossier_top, shards=shards)
    manifest = read_manifest(Path(result["run_dir"]))
    return {
        "run_dir": result["run_dir"],
        "listed": result["listed"],
        "timings": manifest["timings"],
        "counts": manifest["counts"],
        "scale_out": manifest.get("scale_out"),
        "files": {name: manifest["files"].get(name) for name in COMPARED},
        "peak_after_stage_mib": peaks,
    }


# --- on the Dask workers ---------------------------------------------------------------------------------------------


def warm_worker() -> None:
    """Import what a shard task needs, as a long-running cluster's workers already have (not timed)."""
    import importlib

    for name in ("polars", "lightgbm", "prefect", "pipelines.scale_out", "risk_models.themes", "risk_models.explain"):
        importlib.import_module(name)


def worker_usage() -> dict[str, float]:
    """This worker process's peak RSS (MiB) and CPU seconds so far (user + system, every thread)."""
    import os
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"pid": os.getpid(), "peak_mib": usage.ru_maxrss / 1024, "cpu_seconds": usage.ru_utime + usage.ru_stime}


# --- the benchmark ---------------------------------------------------------------------------------------------------


def run_one(
    n: int, workers: int, shards: int, args: argparse.Namespace, world: Path, home: Path
) -> dict[str, Any] | None:
    from distributed import Client, LocalCluster

    reset_runs(home, cold=False)
    label = "single process" if workers == 0 else f"dask {workers} worker(s), {shards} shard(s)"

    def measure(address: str | None) -> Any:
        try:
            return run_isolated(
                flow_run,
                str(world),
                AS_OF.isoformat(),
                args.dossier_top,
                address,
                shards if address else 0,
                env=child_env(home),
                preload=MODULES,
                label=label,
                rss_limit_mib=args.rss_limit,
            )
        except MemoryLimitExceeded as error:
            print(f"  {label}: {error}")
            return None

    if workers == 0:
        m = measure(None)
        return None if m is None else {"label": label, "workers": 0, "shards": 0, "measurement": m, "worker_usage": []}
    began = time.perf_counter()
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit=f"{args.worker_memory_gib}GiB",
    )
    try:
        with Client(cluster) as client:
            client.wait_for_workers(workers)
            client.run(warm_worker)
            started = time.perf_counter() - began
            before = client.run(worker_usage)
            m = measure(cluster.scheduler_address)
            if m is None:
                return None
            after = client.run(worker_usage)
    finally:
        cluster.close()
    usage = [
        {
            "worker": address,
            "pid": after[address]["pid"],
            "peak_mib": after[address]["peak_mib"],
            "baseline_peak_mib": before[address]["peak_mib"],
            "cpu_seconds": after[address]["cpu_seconds"] - before[address]["cpu_seconds"],
        }
        for address in sorted(after)
    ]
    return {
        "label": label,
        "workers": workers,
        "shards": shards,
        "cluster_start_seconds": started,
        "measurement": m,
        "worker_usage": usage,
    }


def row(result: dict[str, Any], reference: dict[str, Any] | None) -> dict[str, Any]:
    m: Measurement = result["measurement"]
    timings = m.info["timings"]
    usage = result["worker_usage"]
    same = None
    if reference is not None:
        same = m.info["files"] == reference["measurement"].info["files"]
    return {
        "run": result["label"],
        **{s: timings.get(s) for s in ("features", "score", "explain")},
        "rest": m.seconds - sum(timings.get(s, 0.0) for s in STAGES),
        "total s": m.seconds,
        "driver CPU s": m.cpu_seconds,
        "workers CPU s": sum(u["cpu_seconds"] for u in usage) if usage else None,
        "driver peak MiB": m.peak_rss_mib,
        "worker peaks MiB": " / ".join(f"{u['peak_mib']:,.0f}" for u in usage) if usage else "-",
        "bitwise same": same,
        "load": m.load_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--champion-from", type=int, help="world size the champion is trained on (default 100000)")
    parser.add_argument("--dask-workers", type=int, nargs="+", default=[0, 1, 2], help="0 = single process")
    parser.add_argument("--shards-per-worker", type=int, default=1)
    parser.add_argument("--dossier-top", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--rss-limit", type=float, default=14_000, help="kill the driver above this RSS (MiB)")
    parser.add_argument("--worker-memory-gib", type=float, default=12, help="Dask's memory limit per worker")
    parser.add_argument("--tag", help="suffix of the results file name")
    args = parser.parse_args()

    n = args.enterprises
    world, home = world_dir(n), home_dir(n)
    print(f"bench_dask: world {world}, home {home}; load {load_average()}")
    payload: dict[str, Any] = {"world": str(world), "home": str(home), "as_of": AS_OF.isoformat(), "args": vars(args)}
    payload["champion"] = ensure_champion(home, args.champion_from or min(n, 100_000), args.rss_limit)
    seed_validated(world, home, args.rss_limit)
    results: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        for workers in args.dask_workers:
            result = run_one(n, workers, workers * args.shards_per_worker, args, world, home)
            if result is None:
                continue
            m = result["measurement"]
            print(
                f"  {result['label']}: {m.seconds:.1f} s, driver CPU {m.cpu_seconds:.1f} s, driver peak "
                f"{m.peak_rss_mib:,.0f} MiB, workers {result['worker_usage']}"
            )
            results.append(result)
    reference = next((r for r in results if r["workers"] == 0), None)
    rows = [row(r, reference) for r in results]
    cohort = results[0]["measurement"].info["counts"]["cohort"] if results else 0
    print_table(rows, title=f"warm nightly, {n:,} enterprises ({cohort:,} scored), Prefect flow, load {load_average()}")
    payload["runs"] = results
    payload["table"] = rows
    path = write_results(f"bench_dask-world-{n}" + (f"-{args.tag}" if args.tag else ""), payload)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
