"""The synthetic prepaid-consumption world: a seeded, chunked generator of every source table.

`generate_world` writes enterprises, legal_rep_history, abnormal_list, complaints, prepaid_transactions,
escrow_balances and closures (exactly their contracts' columns and dtypes), the oracle `true_hazard.parquet`, and a
sender `manifest.json` last.

Latent model in brief (details in `features.synthetic.latent`): each firm has a sector, size (registered capital,
card members) and age; a monthly AR(1) distress state around a frailty (sector prior, size effect, unobserved
effect) sets a sudden-closure hazard and the chance of entering an "exit mode" in which the firm winds down and
closes within about 1-9 months, or recovers. The other modules turn that state into observed rows with noise and
confounders: `prepaid` (daily card transactions and month-end escrow balances), `complaints`, `registry` (firms,
legal representatives, closures), `abnormal` (the abnormal operation list) and `dirty` (rows for the validator to
quarantine). `writer` streams every chunk to Parquet and publishes the folder atomically.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from features.synthetic.latent import sector_shocks
from features.synthetic.months import month_grid
from features.synthetic.world import CHUNK_SIZE, build_tables, make_chunk
from features.synthetic.writer import TABLES, TRUE_HAZARD, WorldSummary, WorldWriter

GENERATOR_VERSION = "1"

__all__ = ["CHUNK_SIZE", "TABLES", "TRUE_HAZARD", "WorldSummary", "generate_world"]


def generate_world(
    out_dir: Path,
    n_enterprises: int = 20_000,
    start: date = date(2023, 1, 1),
    end: date = date(2026, 6, 30),
    seed: int = 7,
    dirty_rate: float = 0.002,
    progress: bool = True,
) -> WorldSummary:
    """Generate a synthetic world and publish it atomically in `out_dir`.

    The same arguments always give byte-identical Parquet files. Firms are simulated in chunks of CHUNK_SIZE, each
    with its own generator seeded by (seed, chunk index), and streamed to disk, so memory stays bounded.

    Args:
        out_dir: destination folder; an existing world there (a folder with manifest.json) is replaced atomically.
        n_enterprises: number of firms.
        start: first day of the window.
        end: last day of the window; nothing dated or recorded after it is emitted.
        seed: world seed.
        dirty_rate: share of complaint and transaction rows damaged for the validator to quarantine (0 disables).
        progress: show a progress bar over chunks.

    Returns:
        The summary with rows per table and the elapsed seconds.
    """
    params = _generator_params(n_enterprises, start, end, seed, dirty_rate)
    began = time.perf_counter()
    grid = month_grid(start, end)
    shocks = sector_shocks(seed, grid.n)
    n_chunks = -(-n_enterprises // CHUNK_SIZE)
    columns = (TextColumn("synthetic world"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with WorldWriter(Path(out_dir), params) as writer, Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("chunks", total=n_chunks)
        for index in range(n_chunks):
            chunk = make_chunk(seed, index, n_enterprises, grid, shocks)
            for name, frame in build_tables(chunk, seed, dirty_rate).items():
                writer.write(name, frame)
            bar.advance(task)
        rows = writer.commit()
    return WorldSummary(out_dir=Path(out_dir), rows=rows, seconds=time.perf_counter() - began)


def _generator_params(n_enterprises: int, start: date, end: date, seed: int, dirty_rate: float) -> dict[str, Any]:
    """Check the arguments and return them as the manifest's `generator` record."""
    if n_enterprises < 1:
        raise ValueError(f"n_enterprises must be positive, got {n_enterprises}")
    if not 0.0 <= dirty_rate < 0.5:
        raise ValueError(f"dirty_rate must lie in [0, 0.5), got {dirty_rate}")
    if end < start:
        raise ValueError(f"end {end} precedes start {start}")
    return {
        "n_enterprises": n_enterprises,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "seed": seed,
        "dirty_rate": dirty_rate,
        "chunk_size": CHUNK_SIZE,
        "version": GENERATOR_VERSION,
    }
