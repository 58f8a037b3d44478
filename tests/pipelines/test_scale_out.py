"""Scale-out: a nightly run sharded by entity gives bitwise the single-process run's outputs.

The reference is the session's `clean_run` (single process). The sharded runs use the same world and champion in
workspaces of their own: in this process with 1, 3 and 7 shards (fast, many shard layouts), and through Prefect's
Dask task runner on a real `distributed.LocalCluster` of two worker processes. Compared: the frames of
features/scores/contributions/warnings/peers exactly, and the sha256 of every output the single-process run makes
deterministic (tests/pipelines/conftest.py DETERMINISTIC).

The peer-relative features (`complaints_peer`, `sales_peer`: a value against the median of the firm's sector x town
over every firm) are the part a naive shard would get wrong; `test_naive_shard_changes_peer_features` shows that
it would here, so the equality below is not an accident of the world.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.sharding import shard_numbers, shard_of

AS_OF = date(2026, 6, 30)
DOSSIER_TOP = 20  # as in the reference run (tests/pipelines/conftest.py)
FRAMES = ("features.parquet", "scores.parquet", "contributions.parquet", "warnings.parquet", "peers.parquet")


def _assert_same_outputs(run_dir: Path, reference: Path, nightly: Any, *, more_dossiers: bool = False) -> None:
    for name in FRAMES:
        ours, theirs = pl.read_parquet(run_dir / name), pl.read_parquet(reference / name)
        assert ours.schema == theirs.schema, name
        assert ours.equals(theirs, null_equal=True), name  # exact: floats bitwise, nulls in place
    differing = nightly.differing_outputs(run_dir, reference)
    assert differing["deterministic"] == [], differing
    if more_dossiers:  # the nightly flow writes 200 dossiers, the reference 20: the 20 must be the same
        differing["other"] = [n for n in differing["other"] if (reference / n).exists()]
    assert differing["other"] == [], differing
    assert not (run_dir / ".shards").exists()


# --- the shard function ---


def test_shard_function_is_pinned() -> None:
    # crc32 is fixed by the zlib format: these values hold on every machine, Python and polars version.
    assert [shard_of(e, 8) for e in ("91330109MA2H00000X", "lane-0001", "")] == [3, 7, 0]
    assert shard_of("91330109MA2H00000X", 1 << 32) == 0xB8D8E313
    assert [shard_of(f"id-{i}", 5) for i in range(8)] == [4, 0, 1, 3, 4, 3, 4, 4]
    assert shard_numbers(["lane-0001", "id-0"], 8).tolist() == [7, shard_of("id-0", 8)]


def _crc_reference(text: str) -> int:
    """CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), written out: the definition the shards rely on."""
    crc = 0xFFFFFFFF
    for byte in text.encode("utf-8"):
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


@settings(max_examples=60, deadline=None)
@given(ids=st.lists(st.text(min_size=1, max_size=24), min_size=1, max_size=60, unique=True), shards=st.integers(1, 16))
def test_shard_function_is_stable_and_total(ids: list[str], shards: int) -> None:
    numbers = shard_numbers(ids, shards)
    assert [shard_of(e, shards) for e in ids] == numbers.tolist()  # vector and scalar agree
    assert all(0 <= n < shards for n in numbers)
    assert [_crc_reference(e) % shards for e in ids] == numbers.tolist()  # the documented definition


@settings(max_examples=25, deadline=None)
@given(prefix=st.sampled_from(["91330109MA", "913301", "lane-", "L", ""]), shards=st.integers(2, 16))
def test_shard_function_is_balanced(prefix: str, shards: int) -> None:
    # 20,000 sequential ids (the worst case for a weak hash): every shard within 10 % of an even share.
    ids = [f"{prefix}{i:08d}" for i in range(20_000)]
    counts = Counter(shard_numbers(ids, shards).tolist())
    even = len(ids) / shards
    assert len(counts) == shards
    assert max(abs(c - even) for c in counts.values()) < 0.10 * even, counts


# --- exactness ---


def test_naive_shard_changes_peer_features(nightly_world: Any) -> None:
    """Features of a shard built alone (peers = the shard's firms only) differ: the global pass is needed."""
    from features.sharding import shard_store
    from features.store import TableStore, known_at
    from pipelines.tables import validated_folder
    from risk_models.scoring import cohort_features
    from risk_models.themes import load_theme

    spec = load_theme("prepaid_cards")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RISKGEN_HOME", str(nightly_world.home))
        store = known_at(TableStore.from_folder(validated_folder(nightly_world.world, AS_OF), list(spec.tables)), AS_OF)
    whole = cohort_features(spec, store, AS_OF)
    alone = cohort_features(spec, shard_store(store, spec.entity.table, 0, 3), AS_OF)
    joined = alone.join(whole, on="entity_id", suffix="_whole")
    peer = [c for c in alone.columns if "_peer__" in c]
    local = [c for c in alone.columns if c.startswith(("complaints__", "card_sales__", "liability__"))]
    assert peer and local
    assert any(not joined[c].equals(joined[f"{c}_whole"], null_equal=True) for c in peer)
    assert all(joined[c].equals(joined[f"{c}_whole"], null_equal=True) for c in local)


@pytest.mark.parametrize("shards", [1, 3, 7])
def test_sharded_run_in_process_is_bitwise_the_single_run(nightly: Any, clean_run: Any, shards: int) -> None:
    from pipelines.runs import read_manifest
    from pipelines.scale_out import ScaleOut

    outcome = nightly.run(AS_OF, scale_out=ScaleOut(shards, "prepaid_cards"))
    assert outcome.published and outcome.summary["listed"] == clean_run.listed
    assert read_manifest(outcome.run_dir)["scale_out"] == {"shards": shards, "where": "in process"}
    _assert_same_outputs(outcome.run_dir, clean_run.run_dir, nightly)


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A real dask.distributed cluster: a scheduler and two worker processes on this machine."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local


def test_flow_on_dask_cluster_is_bitwise_the_single_run(
    harness: None, cluster: Any, nightly: Any, clean_run: Any
) -> None:
    from distributed import Client

    from pipelines.flows import dask_task_runner, score_theme
    from pipelines.runs import read_manifest

    on_cluster = score_theme.with_options(task_runner=dask_task_runner(cluster.scheduler_address))
    result = on_cluster("prepaid_cards", AS_OF, str(nightly.world), dossier_top=DOSSIER_TOP, shards=4)
    run_dir = Path(result["run_dir"])
    assert result["published"] and result["listed"] == clean_run.listed
    assert read_manifest(run_dir)["scale_out"] == {"shards": 4, "where": cluster.scheduler_address}
    _assert_same_outputs(run_dir, clean_run.run_dir, nightly)
    # The shard tasks really ran on the cluster's worker processes, not in this one.
    with Client(cluster.scheduler_address) as client:
        done = client.run_on_scheduler(_task_prefixes)
    assert {"shard_dependencies", "shard_scores", "shard_contributions"} <= set(done), done


@pytest.mark.slow  # starts (and stops) a cluster of its own: ~25 s
def test_flow_with_dask_workers_starts_its_own_cluster(harness: None, nightly: Any, clean_run: Any) -> None:
    from pipelines.flows import nightly as nightly_flow
    from pipelines.runs import read_manifest

    results = nightly_flow(
        as_of=AS_OF, themes=["prepaid_cards"], data_dirs={"prepaid_cards": str(nightly.world)}, dask_workers=2
    )
    run_dir = Path(results[0]["run_dir"])
    scale = read_manifest(run_dir)["scale_out"]
    assert scale["shards"] == 2 and scale["where"].startswith("tcp://"), scale
    _assert_same_outputs(run_dir, clean_run.run_dir, nightly, more_dossiers=True)


def _task_prefixes(dask_scheduler: Any) -> list[str]:
    return sorted({str(prefix) for prefix in dask_scheduler.task_prefixes})


def test_cli_refuses_address_and_workers_together() -> None:
    from click.testing import CliRunner

    from pipelines.cli import main

    result = CliRunner().invoke(main, ["nightly", "--dask-address", "tcp://127.0.0.1:8786", "--dask-workers", "2"])
    assert result.exit_code == 2 and "not both" in result.output
    shown = CliRunner().invoke(main, ["nightly", "--help"]).output
    assert "--dask-address" in shown and "--dask-workers" in shown and "--shards" in shown
