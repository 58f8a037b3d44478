"""Tests of the synthetic world generator: determinism, contracts, identifiers, clocks, signals and publishing."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from features import synthetic
from features.contracts import get_contract
from features.reference import TOWNS
from features.synthetic import TABLES, TRUE_HAZARD, generate_world
from features.synthetic.writer import file_sha256, table_schema
from features.tables import PREPAID_WORLD_TABLES
from features.uscc import is_valid_id_number, is_valid_uscc, normalise_uscc

N = 3000
SEED = 11
START, END = date(2023, 1, 1), date(2026, 6, 30)
EVENT_CLOCKS = {
    "enterprises": "registered_at",
    "legal_rep_history": "valid_from",
    "abnormal_list": "listed_at",
    "complaints": "event_at",
    "prepaid_transactions": "txn_date",
    "escrow_balances": "balance_date",
    "closures": "closed_at",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small world with the default dirty rate."""
    out = tmp_path_factory.mktemp("world") / "w"
    generate_world(out, n_enterprises=N, seed=SEED, progress=False)
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same world without injected dirty rows."""
    out = tmp_path_factory.mktemp("clean") / "w"
    generate_world(out, n_enterprises=N, seed=SEED, dirty_rate=0.0, progress=False)
    return out


def read(folder: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(folder / f"{name}.parquet")


def test_same_arguments_give_byte_identical_files(world: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_world(again, n_enterprises=N, seed=SEED, progress=False)
    for name in TABLES:
        assert file_sha256(world / f"{name}.parquet") == file_sha256(again / f"{name}.parquet"), name
    assert (world / "manifest.json").read_bytes() == (again / "manifest.json").read_bytes()
    other = tmp_path / "other"
    generate_world(other, n_enterprises=N, seed=SEED + 1, progress=False)
    assert file_sha256(world / "complaints.parquet") != file_sha256(other / "complaints.parquet")


def test_tables_match_their_contracts(world: Path) -> None:
    for name in TABLES:
        frame = read(world, name)
        assert list(frame.schema.items()) == list(table_schema(name).items()), name
        assert frame.height > 0, name
    for name in PREPAID_WORLD_TABLES:
        assert list(read(world, name).columns) == get_contract(name).column_names


def test_categorical_values_are_allowed_in_the_clean_world(clean: Path) -> None:
    for name in PREPAID_WORLD_TABLES:
        frame = read(clean, name)
        for column in get_contract(name).columns:
            if column.allowed is not None:
                assert set(frame[column.name].unique().to_list()) <= set(column.allowed), (name, column.name)
            if column.required:
                assert frame[column.name].null_count() == 0, (name, column.name)


def test_credit_codes_are_valid_unique_and_local(world: Path) -> None:
    codes = read(world, "enterprises")["uscc"]
    assert codes.n_unique() == N
    assert all(is_valid_uscc(c) for c in codes)
    assert set(codes.str.slice(0, 1)) == {"9"} and set(codes.str.slice(1, 1)) <= {"1", "2", "3"}
    assert set(codes.str.slice(2, 6)) == {"330109"}
    known = set(codes)
    for name in ("legal_rep_history", "abnormal_list", "prepaid_transactions", "escrow_balances", "closures"):
        assert set(read(world, name)["uscc"]) <= known, name
    # Complaint codes may be printed cosmetically; normalisation restores a valid, known code.
    raw = read(world, "complaints")["uscc"].to_list()
    assert any(c not in known for c in raw)
    assert {normalise_uscc(c) for c in raw} <= known


def test_id_numbers_match_age_and_origin(world: Path) -> None:
    reps = read(world, "legal_rep_history")
    assert all(is_valid_id_number(x) for x in reps["rep_id_number"])
    births = reps["rep_id_number"].str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d")
    for birth, start, age in zip(births, reps["valid_from"], reps["rep_age"], strict=True):
        had_birthday = (start.month, start.day) >= (birth.month, birth.day)
        assert start.year - birth.year - (0 if had_birthday else 1) == age
    local = reps.filter(pl.col("rep_is_local"))["rep_id_number"].str.slice(0, 4)
    assert set(local) == {"3301"}
    assert not reps.filter(~pl.col("rep_is_local"))["rep_id_number"].str.starts_with("33").any()


def test_registry_facts_are_plausible(world: Path) -> None:
    ent = read(world, "enterprises")
    pattern = r"^330109-(\d{2})-(\d{4})$"
    assert ent["grid_cell"].str.contains(pattern).all()
    town_no = ent["grid_cell"].str.extract(pattern, 1).cast(pl.Int64)
    assert (town_no == ent["town"].replace_strict({t: i + 1 for i, t in enumerate(TOWNS)})).all()
    assert 0.35 <= ent["prepaid_filing"].mean() <= 0.45  # type: ignore[operator]
    assert set(ent["status"]) == {"active", "deregistered", "revoked"}
    assert (ent["deregistered_at"].is_null() == (ent["status"] == "active")).all()
    assert ent["name"].str.contains("有限公司|有限责任公司|店|馆|中心|室|园|站|合作社|浴室|茶馆|饭店").all()
    assert ent["name"].n_unique() > 0.99 * N
    assert (ent["registered_at"] > START).sum() > 0.1 * N  # births inside the window


def test_clocks_are_ordered_and_never_after_end(clean: Path, world: Path) -> None:
    for name, event in EVENT_CLOCKS.items():
        frame = read(clean, name)
        assert (frame["recorded_at"] >= frame[event]).all(), name
        for folder in (clean, world):
            dated = read(folder, name).select(pl.col(pl.Date))
            for column in dated.columns:
                latest = dated[column].max()
                assert latest is None or latest <= END, (name, column)  # type: ignore[operator]
    reps = read(clean, "legal_rep_history")
    assert (reps["valid_to"].drop_nulls() >= reps.filter(pl.col("valid_to").is_not_null())["valid_from"]).all()
    listed = read(clean, "abnormal_list").drop_nulls("removed_at")
    assert (listed["removed_at"] > listed["listed_at"]).all()


def test_no_activity_before_registration_or_after_closure(clean: Path) -> None:
    ent = read(clean, "enterprises").select("uscc", "registered_at", "deregistered_at")
    closed = read(clean, "closures").select("uscc", "closed_at")
    for name, event in (("complaints", "event_at"), ("prepaid_transactions", "txn_date"),
                        ("escrow_balances", "balance_date"), ("legal_rep_history", "valid_from")):  # fmt: skip
        frame = read(clean, name).join(ent, on="uscc")
        assert (frame[event] >= frame["registered_at"]).all(), name
    txn = read(clean, "prepaid_transactions").join(closed, on="uscc")
    assert (txn["txn_date"] < txn["closed_at"]).all()
    dereg = ent.join(closed, on="uscc").drop_nulls("deregistered_at")
    assert (dereg["deregistered_at"] >= dereg["closed_at"]).all()
    prepaid = set(read(clean, "enterprises").filter(pl.col("prepaid_filing"))["uscc"])
    assert set(read(clean, "prepaid_transactions")["uscc"]) <= prepaid
    assert set(read(clean, "escrow_balances")["uscc"]) <= prepaid


def test_closers_show_the_domain_signals_before_closure(clean: Path) -> None:
    closed = read(clean, "closures").group_by("uscc").agg(pl.col("closed_at").min().alias("ref"))
    ent = read(clean, "enterprises").filter(pl.col("registered_at") < date(2024, 6, 1))
    others = ent.join(closed, on="uscc", how="anti").select("uscc", pl.lit(date(2025, 6, 30)).alias("ref"))
    refs = pl.concat([closed.with_columns(closer=True), others.with_columns(closer=False)])
    refs = refs.filter(pl.col("ref") > START + timedelta(days=180))
    window = (pl.col("day") < pl.col("ref")) & (pl.col("day") >= pl.col("ref") - timedelta(days=180))

    def share(frame: pl.DataFrame, day: str) -> dict[bool, float]:
        hits = frame.rename({day: "day"}).join(refs, on="uscc").filter(window).select("uscc").unique()
        flagged = refs.with_columns(hit=pl.col("uscc").is_in(hits["uscc"].implode()))
        return dict(flagged.group_by("closer").agg(pl.col("hit").mean()).iter_rows())

    refunds = read(clean, "complaints").filter(pl.col("category") == "refund_refusal")
    closer_reps = read(clean, "legal_rep_history").filter((pl.col("rep_age") >= 60) & ~pl.col("rep_is_local"))
    refund_share, rep_share = share(refunds, "event_at"), share(closer_reps, "valid_from")
    assert refund_share[True] > 2 * refund_share[False]
    assert rep_share[True] > 4 * rep_share[False]
    assert rep_share[True] > 0.05


def test_true_hazard_covers_alive_months(clean: Path) -> None:
    hz = read(clean, TRUE_HAZARD)
    assert hz["hazard"].is_between(0.0, 1.0).all()
    assert (hz["month"].dt.day() == 1).all()
    spans = hz.group_by("uscc").agg(
        first=pl.col("month").min(), last=pl.col("month").max(), n=pl.len(), unique=pl.col("month").n_unique()
    )
    ent = read(clean, "enterprises").join(spans, on="uscc", how="left")
    assert ent["n"].null_count() == 0  # every firm has hazard rows
    assert (ent["n"] == ent["unique"]).all()
    expected_first = pl.max_horizontal(pl.col("registered_at"), pl.lit(START)).dt.truncate("1mo")
    assert ent.select((pl.col("first") == expected_first).all()).item()
    months = (pl.col("last").dt.year() - pl.col("first").dt.year()) * 12 + pl.col("last").dt.month()
    assert ent.select((pl.col("n") == months - pl.col("first").dt.month() + 1).all()).item()  # contiguous
    closed = read(clean, "closures").join(spans, on="uscc")
    assert (closed["last"] == closed["closed_at"].dt.truncate("1mo")).all()


def test_manifest_matches_the_files(world: Path) -> None:
    manifest = json.loads((world / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["tables"]) == set(TABLES)
    for name, entry in manifest["tables"].items():
        assert entry["file"] == f"{name}.parquet"
        assert entry["rows"] == pl.scan_parquet(world / entry["file"]).select(pl.len()).collect().item()
        assert entry["sha256"] == file_sha256(world / entry["file"])
    assert manifest["generator"]["n_enterprises"] == N and manifest["generator"]["seed"] == SEED


def test_dirty_rows_are_injected_only_where_asked(world: Path, clean: Path) -> None:
    comp, txn = read(world, "complaints"), read(world, "prepaid_transactions")
    assert comp.height > read(clean, "complaints").height  # duplicates added
    assert comp.is_duplicated().any() and txn.is_duplicated().any()
    for frame, table, event, column in (
        (comp, "complaints", "event_at", "category"),
        (txn, "prepaid_transactions", "txn_date", "kind"),
    ):
        allowed = get_contract(table).column(column).allowed
        assert allowed is not None
        early = pl.col("recorded_at") < pl.col(event)
        bad = (pl.col("amount") < 0) | (pl.col("amount") > 1e8) | early | ~pl.col(column).is_in(allowed)
        share = frame.filter(bad).height / frame.height
        assert 0 < share < 0.01
    for name in ("enterprises", "legal_rep_history", "abnormal_list", "escrow_balances", "closures", TRUE_HAZARD):
        assert file_sha256(world / f"{name}.parquet") == file_sha256(clean / f"{name}.parquet"), name


def test_base_rate_of_closure_among_prepaid_firms(clean: Path) -> None:
    asof = date(2024, 12, 31)
    ent = read(clean, "enterprises").filter(pl.col("prepaid_filing") & (pl.col("registered_at") <= asof))
    closed = read(clean, "closures").group_by("uscc").agg(pl.col("closed_at").min())
    cohort = ent.join(closed, on="uscc", how="left").filter(
        pl.col("closed_at").is_null() | (pl.col("closed_at") > asof)
    )
    rate = cohort.select((pl.col("closed_at") <= asof + timedelta(days=180)).fill_null(False).mean()).item()
    assert 0.025 <= rate <= 0.09


def test_publishing_replaces_a_world_and_refuses_foreign_folders(tmp_path: Path) -> None:
    out = tmp_path / "w"
    generate_world(out, n_enterprises=200, seed=1, progress=False)
    first = (out / "manifest.json").read_bytes()
    generate_world(out, n_enterprises=300, seed=1, progress=False)
    assert (out / "manifest.json").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]  # no staging or old folder left behind
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        generate_world(foreign, n_enterprises=200, progress=False)
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign", "w"]


def test_a_failed_run_leaves_the_previous_world_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "w"
    generate_world(out, n_enterprises=200, seed=1, progress=False)
    before = {p.name: file_sha256(p) for p in out.iterdir()}
    stale = tmp_path / ".w.tmp-999999999"  # staging folder of a process that died
    stale.mkdir()

    def crash(*args: object) -> None:
        raise RuntimeError("killed mid-run")

    monkeypatch.setattr(synthetic, "build_tables", crash)
    with pytest.raises(RuntimeError):
        generate_world(out, n_enterprises=200, seed=2, progress=False)
    assert {p.name: file_sha256(p) for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]


@pytest.mark.slow
def test_codes_and_ids_stay_unique_across_chunks(tmp_path: Path) -> None:
    out = tmp_path / "w"
    summary = generate_world(out, n_enterprises=26_000, seed=3, progress=False)
    assert summary.rows["enterprises"] == 26_000
    assert read(out, "enterprises")["uscc"].n_unique() == 26_000
    comp = read(out, "complaints").unique()
    assert comp["complaint_id"].n_unique() == comp.height
