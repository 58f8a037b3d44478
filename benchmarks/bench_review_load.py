"""L5: 50 concurrent reviewers browsing a 1,198-row warning list and its dossiers on a real uvicorn server.

    python benchmarks/bench_review_load.py --reviewers 50 --requests 40

A sample review database (1,198 warnings over the 19 towns, one ~40 KB dossier file each) is written to a temporary
folder; the app runs in its own process (uvicorn, 127.0.0.1, one worker) so the load generator does not share its
interpreter. Every reviewer covers all 19 towns, so each list page is the full, town-scoped 1,198-row query. Each
reviewer signs in through the form, then makes a bounded number of requests (list pages with random page, sort,
filter or search; warning pages; dossiers), each one audited by the app (a hash-chained write per view).
The reference is the same request mix made by one reviewer alone, measured first in the same run.
Bars (RELIABILITY.md L5): p95 list page < 1 s, p95 dossier < 2 s, 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from features.reference import TOWNS  # noqa: E402
from review.db import connect  # noqa: E402
from review.sample import sample_rows, seed  # noqa: E402
from review.users import add_user  # noqa: E402

THEME, AS_OF, PASSWORD = "prepaid_cards", "2026-06-30", "load-test-password"
SERVER = """
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from review.app import create_app
from review.config import ReviewConfig
config = ReviewConfig(db_url={db!r}, runs_dir=Path({runs!r}), secret_key="b" * 48,
                      attachments_dir=Path({evidence!r}), cookie_secure=False)
app = create_app(config)
"""
PAGE_KINDS = ("list", "warning", "dossier")
WEIGHTS = (0.4, 0.2, 0.4)


def prepare(folder: Path, rows: int, reviewers: int) -> list[str]:
    """The sample database and run folder; returns the entity ids."""
    engine = connect(f"sqlite:///{folder / 'review.db'}")
    listed = sample_rows(rows, TOWNS)
    seed(engine, folder / "runs", rows=listed)
    for i in range(reviewers + 1):
        add_user(engine, f"reviewer{i:02d}", PASSWORD, "reviewer", list(TOWNS))
    engine.dispose()
    return [r["entity_id"] for r in listed]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(folder: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn in its own process(es) on a free port of 127.0.0.1, serving `create_app` over the sample."""
    port = free_port()
    module = SERVER.format(
        root=str(ROOT), db=f"sqlite:///{folder / 'review.db'}", runs=str(folder / "runs"), evidence=str(folder / "ev")
    )
    (folder / "load_server.py").write_text(module, encoding="utf-8")
    command = [sys.executable, "-m", "uvicorn", "load_server:app", "--app-dir", str(folder), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(command)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the review server did not start")


async def sign_in(client: httpx.AsyncClient, username: str) -> None:
    page = await client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError("no sign-in token")
    form = {"username": username, "password": PASSWORD, "login_token": token[1]}
    response = await client.post("/login", data=form)
    if response.status_code != 303:
        raise RuntimeError(f"sign-in of {username} failed: {response.status_code}")


def next_url(rng: random.Random, kind: str, ids: list[str], rows: int) -> str:
    if kind == "list":
        query = {"page": str(rng.randint(1, max(1, (rows + 49) // 50)))}
        extra = rng.random()
        if extra < 0.2:
            query["sort"], query["order"] = rng.choice(["probability", "name", "town"]), rng.choice(["asc", "desc"])
        elif extra < 0.35:
            query |= {"tier": rng.choice(["red", "orange", "yellow"]), "page": "1"}
        elif extra < 0.5:
            query |= {"q": rng.choice(ids)[:12], "page": "1"}
        return f"/warnings/{THEME}/{AS_OF}?" + "&".join(f"{k}={v}" for k, v in query.items())
    entity = rng.choice(ids)
    return f"/warnings/{THEME}/{AS_OF}/{entity}" + ("/dossier" if kind == "dossier" else "")


@dataclass(frozen=True)
class Plan:
    """What each simulated reviewer does: a bounded number of page requests, reading each for a while."""

    requests: int
    think: tuple[float, float]  # seconds between pages, uniform


async def reviewer(base: str, username: str, ids: list[str], plan: Plan, seed_: int, out: dict[str, Any]) -> None:
    rng = random.Random(seed_)
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        began = time.perf_counter()
        try:
            await sign_in(client, username)
        except Exception as exc:  # counted, never hidden
            out["errors"].append(f"{username} sign-in: {exc!r}")
            return
        out["login"].append(time.perf_counter() - began)
        await asyncio.sleep(rng.uniform(0, plan.think[1]))  # reviewers do not all click at the same instant
        for _ in range(plan.requests):
            kind = rng.choices(PAGE_KINDS, WEIGHTS)[0]
            url = next_url(rng, kind, ids, len(ids))
            began = time.perf_counter()
            try:
                response = await client.get(url)
                ok = response.status_code == 200 and len(response.content) > 500
            except httpx.HTTPError as exc:
                ok, response = False, exc
            out[kind].append(time.perf_counter() - began)
            if not ok:
                out["errors"].append(f"{url}: {getattr(response, 'status_code', response)!r}")
            await asyncio.sleep(rng.uniform(*plan.think))


async def browse(base: str, ids: list[str], reviewers: int, plan: Plan, first: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = defaultdict(list)
    out["errors"] = []
    began = time.perf_counter()
    await asyncio.gather(
        *[reviewer(base, f"reviewer{first + i:02d}", ids, plan, 100 + i, out) for i in range(reviewers)]
    )
    out["seconds"] = time.perf_counter() - began
    return out


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for kind in (*PAGE_KINDS, "login"):
        values = result.get(kind, [])
        figures[kind] = {
            "n": len(values),
            "p50": quantile(values, 0.5),
            "p95": quantile(values, 0.95),
            "p99": quantile(values, 0.99),
            "max": max(values, default=float("nan")),
        }
    pages = sum(len(result.get(k, [])) for k in PAGE_KINDS)
    figures["requests"], figures["errors"] = pages, len(result["errors"])
    figures["throughput"] = pages / result["seconds"] if result["seconds"] else 0.0
    figures["error_samples"] = result["errors"][:5]
    return figures


def report(single: dict[str, Any], loaded: dict[str, Any], reviewers: int) -> bool:
    print(
        f"\nL5 review load — {reviewers} concurrent reviewers, {loaded['requests']} page requests, "
        f"{loaded['throughput']:.0f} req/s, {loaded['errors']} errors"
    )
    print(
        f"{'page':<9}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}{'1-user p50':>12}{'p95/ref':>9}"
    )
    for kind in (*PAGE_KINDS, "login"):
        f, ref = loaded[kind], single[kind]["p50"]
        print(
            f"{kind:<9}{f['n']:>6}{f['p50'] * 1e3:>10.0f}{f['p95'] * 1e3:>10.0f}{f['p99'] * 1e3:>10.0f}"
            f"{f['max'] * 1e3:>10.0f}{ref * 1e3:>12.0f}{f['p95'] / ref:>9.1f}"
        )
    checks = {
        "p95 list < 1 s": loaded["list"]["p95"] < 1.0,
        "p95 dossier < 2 s": loaded["dossier"]["p95"] < 2.0,
        "0 errors": loaded["errors"] == 0,
    }
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    for sample in loaded["error_samples"]:
        print(f"  error: {sample}")
    return all(checks.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40, help="page requests per reviewer (bounded)")
    parser.add_argument("--rows", type=int, default=1198)
    parser.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(1.0, 3.0),
        metavar=("MIN", "MAX"),
        help="seconds a reviewer spends on a page before the next (0 0: back-to-back stress test)",
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    plan = Plan(args.requests, (args.think[0], args.think[1]))
    with tempfile.TemporaryDirectory(prefix="review-load-") as tmp:
        folder = Path(tmp)
        ids = prepare(folder, args.rows, args.reviewers)
        server, base = start_server(folder, args.workers)
        try:
            single = summarise(asyncio.run(browse(base, ids, 1, Plan(args.requests, (0.0, 0.0)), first=args.reviewers)))
            loaded = summarise(asyncio.run(browse(base, ids, args.reviewers, plan)))
        finally:
            server.terminate()
            server.wait(timeout=30)
    figures = {
        "reviewers": args.reviewers,
        "think": args.think,
        "workers": args.workers,
        "rows": args.rows,
        "single": single,
        "loaded": loaded,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    print(f"think time {args.think[0]:g}–{args.think[1]:g} s between pages, {args.workers} uvicorn worker(s)")
    ok = report(single, loaded, args.reviewers)
    print(
        f"(reference: one reviewer alone, same mix; machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f};"
        f" p50 over all loaded pages {statistics.median([loaded[k]['p50'] for k in PAGE_KINDS]) * 1e3:.0f} ms)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
