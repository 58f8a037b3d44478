"""Orchestration reliability of the nightly run (RELIABILITY.md R1-R14), with real processes killed by SIGKILL.

Kills happen in a separate worker process (`nightly_worker.py`, forked by a zygote that imported the pipeline once,
or a fresh interpreter for R7): at the start of each stage through the real fault hook (`RISKGEN_FAULT_AT`), at three
points inside publish and push, or from outside at a random moment. Reruns call `run_theme` in this process (the same
code, without paying a process start each time). Every test works in its own workspace with a copy of the session's
registry and prints its figure (`pytest -s` shows them).
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from nightly_worker import EXTRA_POINTS, STAGE_POINTS

import pipelines.nightly as nightly_module
import pipelines.runs as runs_module
import pipelines.tables as tables_module
from features.atomic import process_alive
from features.loading import SENDER_MANIFEST, file_sha256
from pipelines import settings
from pipelines.locks import lock_path
from pipelines.runs import MANIFEST, verify_run

AS_OF = date(2026, 6, 30)  # the last day of the synthetic world
PREVIOUS = AS_OF - timedelta(days=1)
BEFORE_RENAME = (*STAGE_POINTS, "manifest_written")  # a kill here must leave no run folder at all
THEME = "prepaid_cards"


@pytest.fixture(scope="session", autouse=True)
def _zygote_imports_while_the_champion_trains(zygote: Any) -> None:
    zygote.start()


def _check_published_once(nightly: Any, as_of: date, listed: int) -> dict[str, Any]:
    """The review database holds the date's list once: `listed` rows, no duplicate key, one run record, one push."""
    review = nightly.review(as_of)
    assert review["rows"] == listed, review
    assert review["duplicate_keys"] == 0, review
    assert len(review["published_runs"]) == 1 and review["published_runs"][0][2] == listed, review
    assert review["published_runs"][0][1] == file_sha256(nightly.final(as_of) / MANIFEST), review
    assert review["push_times"] == 1, review  # every row written by the same push transaction
    return review


# --- R1 / R2: SIGKILL at every stage and inside publish and push, then rerun ------------------------------------------


@pytest.mark.parametrize("point", [*STAGE_POINTS, *EXTRA_POINTS])
def test_r1_r2_sigkill_then_rerun(point: str, nightly: Any, clean_run: Any) -> None:
    # Stage points through the real env hook; the extra points are armed by the worker itself.
    if point in STAGE_POINTS:
        killed = nightly.run_worker([AS_OF.isoformat()], fault=point)
    else:
        killed = nightly.run_worker([f"{AS_OF.isoformat()}:{point}"])
    assert killed.killed, f"the worker was not killed at {point}: rc {killed.returncode}\n{killed.stderr}"
    assert not killed.done()
    [attempt] = nightly.ledger(AS_OF)
    assert not process_alive(attempt["pid"])

    # R1: what a reader sees after the kill.
    visible = nightly.visible(AS_OF)
    if point in BEFORE_RENAME:
        assert not nightly.final(AS_OF).exists(), f"killed at {point}: {visible}"
        assert attempt["status"] == "started"  # the dead attempt, until the next run looks
    else:  # the rename happened: the folder is complete and its manifest vouches for every file
        assert verify_run(nightly.final(AS_OF)) == [], f"killed at {point}: torn run folder"
        assert attempt["status"] == ("finished" if point == "pushing" else "started")
    assert not [name for name in visible if name.endswith(".tmp") or "/." in f"/{name}"], visible
    before_rerun = nightly.review(AS_OF)
    assert before_rerun["rows"] == 0, f"killed at {point}: a push was committed: {before_rerun}"

    # R2: rerun.
    outcome = nightly.run(AS_OF)
    assert outcome.published == (point in BEFORE_RENAME)
    assert outcome.pushed == clean_run.listed  # the killed attempt committed nothing, the rerun pushed once
    review = _check_published_once(nightly, AS_OF, clean_run.listed)
    statuses = {r["run_id"]: r["status"] for r in nightly.ledger(AS_OF)}
    assert statuses[attempt["run_id"]] == ("finished" if point == "pushing" else "crashed"), statuses
    assert "started" not in statuses.values(), statuses
    assert nightly.staging_leftovers() == []
    assert verify_run(outcome.run_dir) == []
    differ = nightly.differing_outputs(outcome.run_dir, clean_run.run_dir)
    assert differ["deterministic"] == [], f"BUG: deterministic outputs differ from a clean run: {differ}"
    assert differ["other"] == [], f"outputs differ from a clean run: {differ}"
    print(
        f"\nR1/R2 kill at {point}: rc {killed.returncode}, files visible after the kill {len(visible)} "
        f"({'complete, verified' if visible else 'no run folder'}), ledger {sorted(statuses.values())}; rerun "
        f"published={outcome.published} pushed={outcome.pushed} rows={review['rows']} duplicate rows "
        f"{review['duplicate_keys']} run records {len(review['published_runs'])}; files differing from a clean run: "
        f"{differ['deterministic'] + differ['other']} (only time stamps: {differ['time_stamped']})"
    )


# --- R3: rerun a finished date ------------------------------------------------------------------------------------


def test_r3_rerun_finished_date_three_times(nightly: Any, clean_run: Any) -> None:
    first = nightly.run(AS_OF)
    assert first.published and first.pushed == clean_run.listed
    manifest_sha = file_sha256(nightly.final(AS_OF) / MANIFEST)
    inventory, review, ledger = nightly.manifest(AS_OF)["files"], nightly.review(AS_OF), nightly.ledger(AS_OF)
    reruns = [nightly.run(AS_OF) for _ in range(3)]
    assert [(o.published, o.pushed) for o in reruns] == [(False, 0)] * 3
    assert file_sha256(nightly.final(AS_OF) / MANIFEST) == manifest_sha
    assert nightly.manifest(AS_OF)["files"] == inventory and verify_run(nightly.final(AS_OF)) == []
    assert nightly.review(AS_OF) == review  # same rows, same run record, same push time
    assert nightly.ledger(AS_OF) == ledger  # a no-op rerun starts no attempt
    print(f"\nR3: 3 reruns of a finished date: pushed {[o.pushed for o in reruns]}, manifest unchanged")


# --- R6: two processes start the same date at once ----------------------------------------------------------------


def test_r6_two_processes_same_date(nightly: Any, clean_run: Any, tmp_path: Path) -> None:
    go = tmp_path / "go"
    workers = [nightly.start_worker([AS_OF.isoformat()], go_file=go) for _ in range(2)]
    for worker in workers:
        ready = worker.next_event()
        assert ready is not None and ready["event"] == "ready", worker.finish().stderr
    go.touch()  # both are loaded and polling: they call run_theme within milliseconds of each other
    results = [worker.finish() for worker in workers]
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    done = [r.done()[0] for r in results]
    assert sorted(d["published"] for d in done) == [False, True], done
    pushes = sorted(d["pushed"] for d in done)
    assert pushes == [0, clean_run.listed], f"the same run was pushed twice: {done}"
    review = _check_published_once(nightly, AS_OF, clean_run.listed)
    assert len(nightly.ledger(AS_OF)) == 1  # the second found the date published and started no attempt
    print(
        f"\nR6: two processes at once: published {[d['published'] for d in done]}, pushed {[d['pushed'] for d in done]}"
        f", rows {review['rows']} for {clean_run.listed} listed, duplicate rows {review['duplicate_keys']}"
    )


# --- R7: the lock holder is killed --------------------------------------------------------------------------------


def test_r7_killed_lock_holder_releases_lock(nightly: Any, clean_run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    worker = nightly.start_worker([AS_OF.isoformat()], fresh=True)  # a new interpreter, nothing shared
    assert (worker.next_event() or {}).get("event") == "ready", worker.finish().stderr
    deadline = time.monotonic() + 120
    while not nightly.ledger(AS_OF):  # the attempt is recorded inside the lock: the worker holds it now
        assert worker.process.poll() is None and time.monotonic() < deadline, worker.finish().stderr
        time.sleep(0.01)
    time.sleep(random.Random(7).uniform(0.0, 0.3))
    worker.kill()
    assert worker.process.wait(timeout=30) == -9
    killed_at = time.perf_counter()
    holder = lock_path(settings.workspace() / "locks", THEME, AS_OF).read_text().strip()
    assert holder == str(worker.process.pid)
    published_by_killed = nightly.final(AS_OF).exists()

    acquired: list[float] = []
    real_lock = nightly_module.run_lock

    @contextmanager
    def timed_lock(path: Path, **kwargs: Any) -> Iterator[None]:
        with real_lock(path, **kwargs):
            acquired.append(time.perf_counter())
            yield

    monkeypatch.setattr(nightly_module, "run_lock", timed_lock)
    outcome = nightly.run(AS_OF)
    waited = acquired[0] - killed_at
    assert waited < 1.0, f"the next run waited {waited:.3f} s for the lock of a dead holder"
    assert outcome.published != published_by_killed
    _check_published_once(nightly, AS_OF, clean_run.listed)
    statuses = [r["status"] for r in nightly.ledger(AS_OF)]
    assert statuses.count("crashed") == 1 and "started" not in statuses, statuses
    print(f"\nR7: lock of a SIGKILLed holder acquired {waited * 1000:.1f} ms after its death; ledger {statuses}")


# --- R9: transient read errors --------------------------------------------------------------------------------------


def _flaky_reads(monkeypatch: pytest.MonkeyPatch, world: Path, failures: int, code: int) -> Counter[str]:
    """Make the first `failures` openings of the delivered complaints.parquet raise OSError(code).

    Validation opens a delivered Parquet file with `pl.scan_parquet` (its rows are then read chunk by chunk).
    """
    calls: Counter[str] = Counter()
    real_scan = pl.scan_parquet

    def scan_parquet(source: Any, *args: Any, **kwargs: Any) -> pl.LazyFrame:
        if isinstance(source, str | Path) and Path(source) == world / "complaints.parquet":
            calls["complaints"] += 1
            if calls["complaints"] <= failures:
                raise OSError(code, f"{os.strerror(code)} (injected)", str(source))
        return real_scan(source, *args, **kwargs)

    monkeypatch.setattr(pl, "scan_parquet", scan_parquet)
    monkeypatch.setattr(tables_module, "READ_BACKOFF_SECONDS", 0.05)
    return calls


def test_r9_transient_read_error_is_retried_without_duplicates(
    nightly: Any, clean_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _flaky_reads(monkeypatch, nightly.world, failures=1, code=errno.EIO)
    outcome = nightly.run(AS_OF)
    assert calls["complaints"] == 2  # failed once, read again
    assert outcome.published and outcome.pushed == clean_run.listed
    review = _check_published_once(nightly, AS_OF, clean_run.listed)
    differ = nightly.differing_outputs(outcome.run_dir, clean_run.run_dir)
    assert differ["deterministic"] == [] and differ["other"] == [], differ
    history = settings.delivery_history_dir(nightly.world) / "complaints.jsonl"
    entries = [line for line in history.read_text().splitlines() if AS_OF.isoformat() in line]
    assert len(entries) == 1, entries  # the failed attempt recorded no volume; the retry recorded it once
    report = settings.validated_dir(AS_OF, nightly.world) / "validation_report.json"
    assert '"ok": true' in report.read_text()
    print(
        f"\nR9: EIO on the first read of complaints.parquet: read {calls['complaints']} times, published, "
        f"{review['rows']} rows, 0 duplicates, outputs equal to a clean run, 1 volume entry"
    )


@pytest.mark.parametrize(("code", "reads"), [(errno.EIO, tables_module.READ_ATTEMPTS), (errno.EACCES, 1)])
def test_r9_retries_are_bounded(code: int, reads: int, nightly: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _flaky_reads(monkeypatch, nightly.world, failures=99, code=code)
    with pytest.raises(SystemExit):
        nightly.run(AS_OF)
    assert calls["complaints"] == reads, f"{errno.errorcode[code]}: read {calls['complaints']} times"
    assert not nightly.final(AS_OF).exists() and nightly.staging_leftovers() == []
    assert [r["status"] for r in nightly.ledger(AS_OF)] == ["failed"]
    assert nightly.review(AS_OF)["rows"] == 0
    print(f"\nR9: a persistent {errno.errorcode[code]} is read {calls['complaints']} time(s), then the run fails")


# --- R10: a corrected feed for the same date --------------------------------------------------------------------------


def test_r10_corrected_feed_is_validated_again(nightly: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    delivery = tmp_path / "delivery"
    shutil.copytree(nightly.world, delivery)
    validations: list[Path] = []
    real_validate = tables_module.validate_dataset

    def counting_validate(data_dir: Path, *args: Any, **kwargs: Any) -> Any:
        validations.append(data_dir)
        return real_validate(data_dir, *args, **kwargs)

    monkeypatch.setattr(tables_module, "validate_dataset", counting_validate)
    accepted = tables_module.validated_folder(delivery, AS_OF)
    assert tables_module.validated_folder(delivery, AS_OF) == accepted and len(validations) == 1  # same files: reused

    complaints = pl.read_parquet(delivery / "complaints.parquet")
    target = complaints.filter(pl.col("amount").is_not_null() & (pl.col("amount") < 1e6)).row(0, named=True)
    corrected_amount = target["amount"] + 1234.5
    corrected = complaints.with_columns(
        pl.when(pl.col("complaint_id") == target["complaint_id"])
        .then(pl.lit(corrected_amount))
        .otherwise(pl.col("amount"))
        .alias("amount")
    )
    corrected.write_parquet(delivery / "complaints.parquet")

    # The file changed but its sender manifest did not: validated again, and refused (never the stale accepted copy).
    with pytest.raises(SystemExit):
        tables_module.validated_folder(delivery, AS_OF)
    assert len(validations) == 2

    manifest = json.loads((delivery / SENDER_MANIFEST).read_text(encoding="utf-8"))
    manifest["tables"]["complaints"] |= {
        "sha256": file_sha256(delivery / "complaints.parquet"),
        "rows": corrected.height,
    }
    (delivery / SENDER_MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert tables_module.validated_folder(delivery, AS_OF) == accepted
    assert len(validations) == 3
    served = pl.read_parquet(accepted / "complaints.parquet").filter(pl.col("complaint_id") == target["complaint_id"])
    assert served["amount"].to_list() == [corrected_amount]
    report = json.loads((accepted.parent / "validation_report.json").read_text(encoding="utf-8"))
    [summary] = [t for t in report["tables"] if t["table"] == "complaints"]
    assert summary["sha256"] == file_sha256(delivery / "complaints.parquet")
    print(
        f"\nR10: corrected complaint {target['complaint_id']} ({target['amount']} -> {corrected_amount}): validated "
        f"{len(validations)} times (first, corrected without manifest: refused, corrected with manifest: served)"
    )


# --- R11: disk full during publish --------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["manifest", "rename"])
def test_r11_disk_full_during_publish_keeps_previous_list(
    where: str, nightly: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert nightly.run(PREVIOUS).published
    previous_manifest = file_sha256(nightly.final(PREVIOUS) / MANIFEST)
    previous_review = nightly.review(PREVIOUS)
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    with monkeypatch.context() as patch:
        if where == "manifest":
            real_write = runs_module.write_json_atomic

            def write_json_atomic(payload: Any, target: Path) -> Path:
                if target.name == MANIFEST:
                    raise full
                return real_write(payload, target)

            patch.setattr(runs_module, "write_json_atomic", write_json_atomic)
        else:
            real_replace = os.replace
            final = nightly.final(AS_OF)

            def replace(src: Any, dst: Any, **kwargs: Any) -> None:
                if Path(dst) == final:
                    raise full
                real_replace(src, dst, **kwargs)

            patch.setattr(os, "replace", replace)
        with pytest.raises(OSError) as raised:
            nightly.run(AS_OF)
    assert raised.value.errno == errno.ENOSPC
    assert file_sha256(nightly.final(PREVIOUS) / MANIFEST) == previous_manifest
    assert verify_run(nightly.final(PREVIOUS)) == []
    assert nightly.review(PREVIOUS) == previous_review
    assert not nightly.final(AS_OF).exists() and nightly.staging_leftovers() == []
    assert nightly.review(AS_OF)["rows"] == 0
    assert [r["status"] for r in nightly.ledger(AS_OF)] == ["failed"]
    # Space is back: the next run publishes the date once.
    outcome = nightly.run(AS_OF)
    listed = int(outcome.summary["listed"])  # with a previous list, statuses (and the list) differ from clean_run
    assert outcome.published and outcome.pushed == listed
    _check_published_once(nightly, AS_OF, listed)
    print(
        f"\nR11: ENOSPC at the {where} of {AS_OF}: previous list {PREVIOUS} intact (manifest sha256 and files "
        "verified, review rows unchanged), no folder for the failed date, staging cleaned, rerun published once"
    )


# --- R13: business date -------------------------------------------------------------------------------------------


def test_r13_business_date_is_asia_shanghai() -> None:
    assert settings.business_date(datetime(2026, 6, 30, 17, 30, tzinfo=UTC)) == date(2026, 7, 1)
    assert settings.business_date(datetime(2026, 6, 30, 15, 59, tzinfo=UTC)) == date(2026, 6, 30)
    with pytest.raises(ValueError):
        settings.business_date(datetime(2026, 6, 30, 17, 30))
    print("\nR13: 2026-06-30T17:30Z is business date 2026-07-01 (Asia/Shanghai); a naive time is refused")


# --- R14: soak ----------------------------------------------------------------------------------------------------

KILL_SHARE = 0.3  # of attempts
OUTSIDE_SHARE = 0.25  # of kills: SIGKILL from outside at a random moment instead of at a named point
OUTSIDE_DELAY = 1.0  # seconds after the date's start, at most (a warm run of 1,500 firms takes about 1-2 s)


@pytest.mark.slow
def test_r14_soak_consecutive_dates_with_random_kills(nightly: Any) -> None:
    """Consecutive dates, ~30 % of attempts killed, rerun until published: each date published exactly once.

    30 dates take about 2 minutes on 2 loaded cores (one worker process serves dates until it is killed, so a
    process start is paid per kill, not per date). RISKGEN_SOAK_DATES and RISKGEN_SOAK_SEED change the soak.
    """
    n_dates = int(os.environ.get("RISKGEN_SOAK_DATES", "30"))
    rng = random.Random(int(os.environ.get("RISKGEN_SOAK_SEED", "14")))
    dates = [AS_OF - timedelta(days=n_dates - 1 - i) for i in range(n_dates)]
    points = (*STAGE_POINTS, *EXTRA_POINTS)
    pending = list(dates)
    attempts: Counter[str] = Counter()
    kills: Counter[str] = Counter()
    done: dict[str, list[dict[str, Any]]] = defaultdict(list)
    processes = missed = 0
    started = time.perf_counter()
    while pending:
        processes += 1
        assert processes <= 4 * n_dates, "the soak does not converge"
        plan, outside = [], {}
        for day in pending:  # one decision per attempt; the worker dies at the first kill
            if rng.random() >= KILL_SHARE:
                plan.append(day.isoformat())
            elif rng.random() < OUTSIDE_SHARE:
                plan.append(day.isoformat())
                outside[day.isoformat()] = rng.uniform(0.0, OUTSIDE_DELAY)
            else:
                plan.append(f"{day.isoformat()}:{rng.choice(points)}")
        worker = nightly.start_worker(plan)
        timer: threading.Timer | None = None
        current: dict[str, Any] = {}
        try:
            while (event := worker.next_event()) is not None:
                if event["event"] == "start":
                    current = event
                    attempts[event["as_of"]] += 1
                    if event["as_of"] in outside:
                        timer = threading.Timer(outside[event["as_of"]], worker.kill)
                        timer.start()
                elif event["event"] == "done":
                    if timer is not None:
                        timer.cancel()  # the run ended before the outside kill: it missed
                        timer = None
                        missed += 1
                    done[event["as_of"]].append(event)
                    pending.remove(date.fromisoformat(event["as_of"]))
        finally:
            if timer is not None:
                timer.cancel()
                timer.join()
        result = worker.finish()
        if result.returncode != 0:
            assert result.killed, result.stderr
            kills[current.get("point") or "outside"] += 1
    seconds = time.perf_counter() - started

    review = nightly.review()
    assert review["duplicate_keys"] == 0
    assert [r[0] for r in review["published_runs"]] == [d.isoformat() for d in dates]
    ledger = nightly.ledger()
    for day in dates:
        final = nightly.final(day)
        assert verify_run(final) == [], day
        listed = nightly.manifest(day)["counts"]["listed"]
        assert nightly.review(day)["rows"] == listed and nightly.review(day)["push_times"] == 1, day
        [record] = [r for r in review["published_runs"] if r[0] == day.isoformat()]
        assert record[1] == file_sha256(final / MANIFEST) and record[2] == listed, day
        published_events = [e for e in done[day.isoformat()] if e["published"]]
        pushing_events = [e for e in done[day.isoformat()] if e["pushed"]]
        assert len(published_events) <= 1 and len(pushing_events) <= 1, done[day.isoformat()]
        attempts_of_day = [r for r in ledger if r["as_of"] == day.isoformat()]
        assert sum(r["status"] == "finished" for r in attempts_of_day) <= 1, attempts_of_day
        assert nightly.manifest(day)["run_id"] in {r["run_id"] for r in attempts_of_day}
    statuses = Counter(r["status"] for r in ledger)
    assert statuses["started"] == 0, statuses
    assert nightly.staging_leftovers() == []
    total = sum(attempts.values())
    print(
        f"\nR14: {n_dates} dates, {total} attempts in {processes} processes, {sum(kills.values())} killed "
        f"({sum(kills.values()) / total:.0%}: {dict(sorted(kills.items()))}; {missed} outside kills came after the run "
        f"ended), reruns {total - n_dates}; every date "
        f"published once ({len(review['published_runs'])} run records, {review['rows']} rows, 0 duplicates), "
        f"ledger {dict(statuses)}, no staging leftovers; {seconds:.0f} s"
    )
