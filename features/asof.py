"""The point-in-time view: the only way feature blocks read data.

As of date `t` a row is visible only when `recorded_at <= t` and its event date `<= t`. Many as-of dates are answered
in one pass: every row contributes to a contiguous range of as-of dates `[lo, hi)` (from the first date that can see
it to the first date its window has moved past), so window sums become running totals of +value at `lo` and -value
at `hi` (features/windows.py), and "latest row as of t" becomes an as-of join on the date a row becomes visible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from features.contracts import Column, TableContract
from features.store import TableStore
from features.windows import (
    ENTITY,
    ENTITY_ID,
    KEYS,
    Clocks,
    K,
    Window,
    WindowRequest,
    dense_running,
    first_visible,
    grid_keys,
    range_deltas,
    run_starts,
    slices,
    sum_windows,
)

if TYPE_CHECKING:
    from features.blocks.base import FeatureBlock

__all__ = ["ENTITY", "ENTITY_ID", "KEYS", "AsOf", "K", "Window", "left_join", "outer_join"]
CHUNK_ROWS = 8_000_000  # rows of a table coded at a time: bounds the memory their text entity ids take


@dataclass
class AsOf:
    """A view of a `TableStore` as of one or more dates, for the entities of one entity table.

    Every method returns a frame keyed by (`entity_id`, `_k`), `_k` indexing `dates`. Results of blocks are cached so
    blocks can build on each other (`block`). `prefetch(blocks)` learns every window sum the blocks will ask for and
    answers all of a table's requests together (see features/windows.py).
    """

    store: TableStore
    dates: tuple[date, ...]
    entity_table: str
    codes: pl.DataFrame = field(default_factory=pl.DataFrame)
    dry_run: bool = False  # tables are empty: running blocks only records what they ask for
    _cache: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)
    _tables: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)
    _prefetched: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)
    _requests: dict[str, WindowRequest] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if list(self.dates) != sorted(set(self.dates)):
            raise ValueError("as-of dates must be sorted and unique")
        self._dates = pl.Series("as_of", self.dates, dtype=pl.Date)
        if self.codes.is_empty() and not self.dry_run:
            key = self.store.contract(self.entity_table).entity_key
            ids = self.store.frame(self.entity_table).select(pl.col(key).alias(ENTITY_ID)).unique().collect()
            # Entities travel as integer codes: every group-by, sort and join over millions of events is on u32.
            self.codes = ids.sort(ENTITY_ID).with_row_index(ENTITY)

    @property
    def n_dates(self) -> int:
        return len(self.dates)

    def table(self, name: str) -> pl.LazyFrame:
        """The table keyed by entity code (`entity_id`), cut to rows the last as-of date can see.

        Read once per view and kept in memory without free-text columns; categorical text becomes Categorical.
        Rows of entities missing from the entity table are dropped (nothing can be scored for them).
        """
        if name not in self._tables:
            contract = self.store.contract(name)
            raw = self.store.frame(name).head(0) if self.dry_run else self.store.frame(name)
            chunks = [
                self._coded(_shaped(rows, contract, self.dates[-1]), contract.entity_key)
                for rows in slices(raw, CHUNK_ROWS)
            ]
            self._tables[name] = pl.concat(chunks)
        return self._tables[name].lazy()

    def _coded(self, frame: pl.LazyFrame, key: str) -> pl.DataFrame:
        """The rows with the entity id replaced by its code.

        Event tables hold an entity's rows together, so coding each run of equal ids once is several times cheaper
        than joining every row's text id (and correct in any row order).
        """
        chunk = frame.collect()
        runs = chunk.select(pl.col(key).rle()).unnest(key)
        run_codes = runs.join(self.codes, left_on="value", right_on=ENTITY_ID, how="left", maintain_order="left")
        codes = run_codes.select(pl.col(ENTITY).repeat_by("len").explode(empty_as_null=True)).to_series()
        return chunk.drop(key).insert_column(0, codes).filter(pl.col(ENTITY).is_not_null())

    def decode(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Replace entity codes by the entities' ids (codes are row numbers of `codes`)."""
        ids = self.codes[ENTITY_ID].gather(frame[ENTITY])
        return frame.with_columns(ids.alias(ENTITY))

    def first_visible(self, *date_exprs: pl.Expr) -> pl.Expr:
        """Index of the first as-of date on or after every given date (== n_dates when none)."""
        return first_visible(self._dates, *date_exprs)

    def visible_from(self, name: str) -> pl.Expr:
        """Index of the first as-of date that may see a row: both clocks must have passed."""
        return self.first_visible(*self._clocks(name))

    def _clocks(self, name: str) -> list[pl.Expr]:
        contract = self.store.contract(name)
        return [pl.col(c) for c in (contract.recorded_at, contract.event_at) if c]

    def range_sums(self, rows: pl.LazyFrame, metrics: Sequence[str]) -> pl.DataFrame:
        """Sum each metric of rows over as-of dates: a row adds its value to every date index in `[lo, hi)`.

        `rows` has `entity_id`, `lo`, `hi` and the metric columns. Integer metrics stay exact.
        """
        live = rows.filter(pl.col("lo") < pl.col("hi")).group_by(ENTITY, "lo", "hi").agg(pl.col(metrics).sum())
        deltas = range_deltas(live.collect(), self.n_dates)
        return dense_running(deltas, deltas[ENTITY].unique().sort(), self.n_dates)

    def window_sums(
        self,
        name: str,
        window: Window | Mapping[str, Window],
        metrics: Mapping[str, pl.Expr],
        where: pl.Expr | None = None,
    ) -> pl.DataFrame:
        """Sums of metric expressions over the events of `name` inside a window, as of every date.

        With one `Window` the columns are the metric names; with a mapping `{suffix: Window}` they are
        `<metric><suffix>`. Every entity with rows of the table in reach of the windows has a row at every date (0
        for an empty window). Requests learnt by `prefetch` are answered from its shared passes.
        """
        request = WindowRequest.of(name, window, metrics, where)
        if self.dry_run:
            self._requests.setdefault(request.key, request)
        # Each answer serves one call (then memory is freed); an identical second request is computed again.
        answer = self._prefetched.pop(request.key, None)
        return answer if answer is not None else self._window_answers(name, [request])[request.key]

    def prefetch(self, blocks: Iterable[FeatureBlock]) -> None:
        """Run the blocks on empty tables to learn their window sums, then answer each table's requests together."""
        # No entities either: a dry run's grid-sized arrays would be as large as the real ones.
        dry = AsOf(self.store, self.dates, self.entity_table, codes=self.codes.clear(), dry_run=True)
        for block in blocks:
            block.run(dry)
        by_table: dict[str, list[WindowRequest]] = {}
        for request in dry._requests.values():
            by_table.setdefault(request.table, []).append(request)
        for table, requests in by_table.items():
            self._prefetched.update(self._window_answers(table, requests))

    def _window_answers(self, name: str, requests: Sequence[WindowRequest]) -> dict[str, pl.DataFrame]:
        clocks = Clocks(self._event_at(name), self.store.contract(name).recorded_at)
        return sum_windows(self.table(name), clocks, self._dates, requests)

    def active_counts(self, name: str, where: pl.Expr | None = None) -> pl.DataFrame:
        """Number of intervals of an interval table in force at each date (`valid_from <= t < valid_to`)."""
        contract = self.store.contract(name)
        if contract.valid_from is None:
            raise ValueError(f"{name} is not an interval table (no valid_from declared)")
        frame = self.table(name) if where is None else self.table(name).filter(where)
        clocks = [pl.col(c) for c in (contract.recorded_at, contract.valid_from) if c]
        # An open interval (valid_to null) never ends; search_sorted would place a null at index 0, not "never".
        end = (
            pl.when(pl.col(contract.valid_to).is_not_null()).then(self.first_visible(pl.col(contract.valid_to)))
            if contract.valid_to
            else pl.lit(None)
        )
        rows = frame.select(
            ENTITY,
            self.first_visible(*clocks).alias("lo"),
            end.fill_null(self.n_dates).cast(pl.Int32).alias("hi"),
            pl.lit(1, dtype=pl.Int64).alias("active"),
        )
        return self.range_sums(rows, ["active"])

    def latest(
        self, name: str, columns: Sequence[str], order_by: str | None = None, where: pl.Expr | None = None
    ) -> pl.DataFrame:
        """Values of the visible row with the greatest `order_by` (default the event date), as of each date.

        A late-arriving older row never replaces a newer one; a row recorded after `t` is never seen at `t`. Of rows
        with the same order, the one visible from a later day wins (a correction supersedes what it corrects), then
        the one with the greatest values: the answer at `t` never depends on the other as-of dates of the build.
        """
        order = order_by or self._event_at(name)

        def visible(frame: pl.LazyFrame, *more: pl.Expr) -> pl.LazyFrame:
            frame = frame if where is None else frame.filter(where)
            rows = frame.select(
                ENTITY, self.visible_from(name).alias(K), pl.col(order).alias("_order"), *columns, *more
            )
            return rows.filter(pl.col(K) < self.n_dates)

        if set(columns) <= {order} and _fits_int64(self.table(name).collect_schema()[order]):
            return self._running_max(name, visible, columns)  # recency: only the order key itself, a date
        best = self._best_rows(name, visible, list(columns))
        if self.n_dates == 1:  # nothing to carry forward to later dates
            return best.drop("_order")
        return self.carry_forward(best)

    def _best_rows(
        self, name: str, visible: Callable[[pl.LazyFrame, pl.Expr], pl.LazyFrame], columns: list[str]
    ) -> pl.DataFrame:
        """The best row of each (entity, date index) cell, its `_order` replaced by its key (`_visible_keys`). Rows
        tied on the key are resolved by their values (the greatest wins), so the result never depends on row order.

        Two passes over chunks of the table: `np.maximum.at` finds each cell's greatest key in a dense (entity x
        date index) array, then the rows holding it are kept; only the (rare) rows tied at it are sorted. No group-by
        of millions of rows, and no more than a chunk of them in memory at once.
        """
        seen = pl.max_horizontal(self._clocks(name)).cast(pl.Date).alias("_seen")  # the day the row became visible
        chunks = [visible(chunk, seen).drop_nulls("_order") for chunk in slices(self.table(name), CHUNK_ROWS)]
        distinct = _distinct_orders(chunks)
        top = np.full(self.codes.height * self.n_dates, np.iinfo(np.int64).min)
        for chunk in chunks:
            rows = chunk.select(ENTITY, K, "_order", "_seen").collect()  # the keys only: values come in pass two
            np.maximum.at(top, self._cells(rows), _visible_keys(rows["_order"], rows["_seen"], distinct))
        kept = []
        for chunk in chunks:
            rows = chunk.collect()
            keys = _visible_keys(rows["_order"], rows["_seen"], distinct)
            best = keys == top[self._cells(rows)]
            kept.append(rows.select(ENTITY, K, pl.Series("_order", keys), *columns).filter(pl.Series(best)))
        best_rows = pl.concat(kept)
        cells = self._cells(best_rows)
        top[:] = 0  # now the number of rows at each cell's greatest key
        np.add.at(top, cells, np.ones(cells.size, dtype=np.int64))
        tied = pl.Series(top[cells] > 1)
        resolved = (
            best_rows.filter(tied)
            .sort([*KEYS, *columns], nulls_last=False)
            .unique(KEYS, keep="last", maintain_order=True)
        )
        return pl.concat([best_rows.filter(~tied), resolved])

    def _cells(self, rows: pl.DataFrame) -> np.ndarray:
        """Each row's cell of the dense (entity code x date index) array."""
        return rows[ENTITY].to_numpy().astype(np.int64) * self.n_dates + rows[K].to_numpy()

    def _running_max(
        self, name: str, visible: Callable[[pl.LazyFrame], pl.LazyFrame], columns: Sequence[str]
    ) -> pl.DataFrame:
        """The greatest `_order` of an integer (or date) kind visible at each date, named as each of `columns`.

        Each chunk of the table's visible rows is maxed into a dense (entity x date index) array by `np.maximum.at`,
        then a running maximum along each entity's dates carries it forward: no group-by, sort or row gather of
        millions of rows. Cells before an entity's first visible row hold the floor and become null.
        """
        n = self.n_dates
        floor = np.iinfo(np.int64).min  # no date or plausible integer order is the least int64
        grid = np.full(self.codes.height * n, floor, dtype=np.int64)
        chunks = [visible(chunk).drop_nulls("_order") for chunk in slices(self.table(name), CHUNK_ROWS)]
        for chunk in chunks:
            rows = chunk.collect()
            # Values of the grid's own dtype: ufunc.at takes its fast path only then (int32 into int64: 15x slower).
            np.maximum.at(grid, self._cells(rows), rows["_order"].to_physical().cast(pl.Int64).to_numpy())
        running = np.maximum.accumulate(grid.reshape(-1, n), axis=1, out=grid.reshape(-1, n))
        present = running[:, -1] > floor  # an entity with a visible row by the last date
        values = pl.Series(running.ravel() if present.all() else running[present].ravel())
        keys = grid_keys(pl.Series(ENTITY, np.flatnonzero(present), dtype=self.codes.schema[ENTITY]), n)
        order = values.set(values == floor, None).cast(chunks[0].collect_schema()["_order"])
        return keys.with_columns(order.alias(c) for c in columns)

    def carry_forward(self, best: pl.DataFrame) -> pl.DataFrame:
        """For every entity with rows and every date index, the row of the greatest `_order` at or before it.

        `best` holds one row per (entity, date index), where rows become visible. A later row of equal order
        supersedes an earlier one. The running maximum runs over `best`'s own rows (sorted by entity and date), so
        the dense (entities x dates) grid needs a single array, of row numbers: fresh memory of grid size is slow
        here (see features/windows.py).
        """
        n = self.n_dates
        best = best.drop_nulls("_order").sort(KEYS)
        entity, k = best[ENTITY].to_numpy(), best[K].to_numpy().astype(np.int64)
        firsts = run_starts(entity)
        entities = best[ENTITY].gather(firsts)
        rank = np.repeat(np.arange(firsts.size), np.diff(np.r_[firsts, entity.size]))
        # Ranks of the order key, offset per entity: one running maximum over all rows never crosses entities.
        order = best["_order"].rank("dense").to_numpy().astype(np.int64)
        keyed = rank * (int(order.max(initial=0)) + 1) + order
        reached = keyed == np.maximum.accumulate(keyed)
        source = np.maximum.accumulate(np.where(reached, np.arange(best.height), -1))
        rows = np.full(firsts.size * n, -1, dtype=np.int64)
        rows[rank * n + k] = source
        # Forward along each entity's dates; before an entity's first row the fill came from the entity before.
        grid = np.maximum.accumulate(rows, out=rows).reshape(-1, n)
        grid[np.arange(n) < k[firsts][:, None]] = -1
        take = pl.Series(rows).replace(-1, None)  # a null index gathers a null row: no row visible yet
        return grid_keys(entities, n).hstack(best.drop(ENTITY, K, "_order").select(pl.all().gather(take)))

    def days_since(self, date_column: str) -> pl.Expr:
        """Days from a date column to the as-of date of the row."""
        return (self.as_of_expr() - pl.col(date_column)).dt.total_days()

    def as_of_expr(self) -> pl.Expr:
        """The as-of date of each row, from its `_k` index."""
        return pl.lit(self._dates).gather(pl.col(K))

    def block(self, name: str, compute: Callable[[AsOf], pl.DataFrame]) -> pl.DataFrame:
        """A block's output, computed once per view (blocks may build on each other)."""
        if name not in self._cache:
            self._cache[name] = compute(self)
        return self._cache[name]

    def release(self, name: str) -> None:
        """Drop a block's cached output once nothing will read it again (assembly frees memory as it goes)."""
        self._cache.pop(name, None)

    def _event_at(self, name: str) -> str:
        contract = self.store.contract(name)
        if contract.event_at is None:
            raise ValueError(f"table {name} declares no event_at column")
        return contract.event_at


def _fits_int64(dtype: pl.DataType) -> bool:
    """Whether every value of `dtype` is an int64 as it is: dates (days) and integers short of UInt64."""
    return dtype == pl.Date or (dtype.is_integer() and dtype != pl.UInt64)


_SHORT_ORDERS = (pl.Date, pl.Int8, pl.Int16, pl.Int32, pl.UInt8, pl.UInt16)  # values that fit 32 signed bits


def _distinct_orders(chunks: Sequence[pl.LazyFrame]) -> pl.Series | None:
    """The sorted distinct orders of all chunks, when the order is not a short integer or date (None then): a row's
    place among them ranks it the same in every chunk, where a rank within each chunk would not."""
    if chunks[0].collect_schema()["_order"] in _SHORT_ORDERS:
        return None
    return pl.concat([chunk.select("_order") for chunk in chunks]).unique().sort("_order").collect().to_series()


def _visible_keys(order: pl.Series, seen: pl.Series, distinct: pl.Series | None) -> np.ndarray:
    """int64 keys ordering rows by `order`, then by the day they became visible: the order (a short integer or
    date as it is, any other kind by its place among the `distinct` orders) in the high 32 bits, the day (a date) in
    the low 32."""
    high = order.to_physical() if distinct is None else distinct.search_sorted(order)
    day = seen.to_physical().cast(pl.Int64).to_numpy() + 2**31  # in [0, 2^32)
    return (high.cast(pl.Int64).to_numpy() << 32) + day


def _shaped(frame: pl.LazyFrame, contract: TableContract, last_date: date) -> pl.LazyFrame:
    """The columns features may read, categorical text as Categorical, cut to rows the last as-of date can see."""
    keep = [c.name for c in contract.columns if c.name != contract.entity_key and _kept(c, contract)]
    categorical = [c.name for c in contract.columns if c.allowed is not None and c.name in keep]
    frame = frame.select(contract.entity_key, *keep).with_columns(pl.col(categorical).cast(pl.Categorical))
    return frame.filter(pl.col(contract.recorded_at) <= last_date) if contract.recorded_at else frame


def _kept(column: Column, contract: TableContract) -> bool:
    """Free text (names, summaries), personal data and row ids are never feature inputs: leave them on disk."""
    row_id = column.name in contract.keys and column.dtype == pl.String and column.allowed is None
    return not (column.free_text or column.pii or row_id)


def outer_join(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Full join of (entity_id, _k)-keyed frames, each unique per key, sorted by (entity, date index).

    On the (entities x date indices) grid every frame's row has a cell: the result holds the cells some frame has,
    each frame's columns gathered from its row there (null where it has none). No hash join of 12M-row frames.
    """
    width = _extent(frames, K)
    # Entity codes are small integers: a mark per code gives the sorted union and each code's rank, no hashing.
    seen = np.zeros(_extent(frames, ENTITY), dtype=bool)
    for frame in frames:
        seen[frame[ENTITY].to_numpy()] = True
    entities, rank = np.flatnonzero(seen), np.cumsum(seen) - 1
    cells = [rank[frame[ENTITY].to_numpy()] * width + frame[K].to_numpy() for frame in frames]
    present = np.zeros(len(entities) * width, dtype=bool)
    for frame_cells in cells:
        present[frame_cells] = True
    kept = np.flatnonzero(present)
    # A frame holding every kept cell in order (often all of them: blocks of one table) is taken as it is.
    whole = [frame_cells.size == kept.size and np.array_equal(frame_cells, kept) for frame_cells in cells]
    if any(whole):
        keys = frames[whole.index(True)].select(KEYS)
    else:
        keys = pl.DataFrame(
            {
                ENTITY: pl.Series(ENTITY, entities[kept // width], dtype=frames[0].schema[ENTITY]),
                K: pl.Series(K, kept % width, dtype=frames[0].schema[K]),
            }
        )
    columns = [
        frame.drop(KEYS) if is_whole else _gathered(frame.drop(KEYS), frame_cells, kept, present.size)
        for frame, frame_cells, is_whole in zip(frames, cells, whole, strict=True)
    ]
    return pl.concat([keys, *columns], how="horizontal")


def left_join(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    """`left` with `right`'s columns at the same (entity_id, _k) key (null where `right` has none), in `left`'s order.

    Both are unique per key. Integer entity codes (a view's frames) are joined through grid cells, no hash join of
    12M-row frames; entity ids as text (a sharded build's global pass over its shards' outputs) by a polars join.
    """
    if not (left.schema[ENTITY].is_integer() and right.schema[ENTITY].is_integer()):
        return left.join(right, on=list(KEYS), how="left", maintain_order="left")
    frames = (left, right)
    width = _extent(frames, K)
    codes = _extent(frames, ENTITY)
    left_cells, right_cells = (f[ENTITY].to_numpy().astype(np.int64) * width + f[K].to_numpy() for f in frames)
    return left.hstack(_gathered(right.drop(KEYS), right_cells, left_cells, codes * width))


def _extent(frames: Sequence[pl.DataFrame], column: str) -> int:
    """One more than the greatest value of an integer key column in any of the frames (0 when all are empty)."""
    return 1 + max((int(f[column].to_numpy().max()) for f in frames if f.height), default=0)


def _gathered(frame: pl.DataFrame, cells: np.ndarray, kept: np.ndarray, n_cells: int) -> pl.DataFrame:
    """`frame`'s rows (at `cells` of the grid) laid on the `kept` cells, null where it has no row."""
    source = np.full(n_cells, frame.height, dtype=np.int64)  # one past the end: the null row appended below
    source[cells] = np.arange(frame.height)
    return pl.concat([frame, frame.clear(1)]).select(pl.all().gather(source[kept]))
