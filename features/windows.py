"""Window sums over event tables, as of one or many dates, for many requests at once.

A request asks for sums of metric expressions over the rows of one table inside trailing windows, optionally
filtered. The prepaid feature set asks for eight such requests of the transactions table; answering each with its
own pass over 50M rows costs eight passes. Here every request on a table is answered from one pass (`sum_windows`):
each distinct (filter, metric) pair is summed once into (entity, interval between cut days) cells, and every
window at every as-of date is a difference of two running totals over those cells. The same code answers one date
(the nightly run) and many (training snapshots); many dates only add cut days.

Range sums (`range_deltas`, `dense_running`) serve interval tables: a row counts at as-of index k when
`lo <= k < hi`, so a sum is a running total of +value at `lo` and -value at `hi` along each entity's dates.

Memory is the cost to watch. On the 2-core virtual machines we run on, memory a process gives back is reclaimed by
the host within a few seconds, and touching fresh memory runs at 0.5-2.3 GB/s against 6-8 GB/s for pages reused at
once (a 96 MB array: 40-200 ms fresh, 11-16 ms reused; `python benchmarks/bench_memory.py`). So the code here sums
in place and avoids temporaries of grid size (entities x dates): at 12 dates sys time is 40 % of the CPU time.

An answer holds every entity with rows of the table within reach of the pass's windows, at every date (0 for an
empty window): its columns are the sums themselves, with no copy per request. Assembly gives the entities without
rows the blocks' declared defaults, which blocks keep equal to what their formulas make of empty windows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

ENTITY = "entity_id"
ENTITY_ID = "_entity"  # the entity's own id (a credit code, a lane id); ENTITY holds its integer code in a view
K = "_k"  # index of the as-of date within AsOf.dates
KEYS = (ENTITY, K)
SUM_CHUNK_ROWS = 4_000_000  # rows summed at a time: bounds the memory of their metric columns


@dataclass(frozen=True)
class Window:
    """Events that happened between `start_days` (exclusive of older) and `end_days` ago: `(t - end, t - start]`."""

    end_days: int
    start_days: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.start_days < self.end_days:
            raise ValueError(f"window needs 0 <= start_days < end_days, got {self.start_days}, {self.end_days}")

    @property
    def suffix(self) -> str:
        return f"{self.end_days}d" if self.start_days == 0 else f"{self.start_days}_{self.end_days}d"


@dataclass(frozen=True)
class WindowRequest:
    """Sums of `metrics` over the rows of `table` passing `where`, in each window; columns `<metric><suffix>`."""

    table: str
    windows: tuple[tuple[str, Window], ...]
    metrics: tuple[tuple[str, pl.Expr], ...]
    where: pl.Expr | None = None

    @classmethod
    def of(
        cls, table: str, window: Window | Mapping[str, Window], metrics: Mapping[str, pl.Expr], where: pl.Expr | None
    ) -> WindowRequest:
        windows = {"": window} if isinstance(window, Window) else dict(window)
        return cls(table, tuple(windows.items()), tuple(metrics.items()), where)

    @property
    def key(self) -> str:
        """Identity of the request. Expressions are compared by their serialised form: their printed form elides
        long literal lists, so two different filters could print alike."""
        digest = hashlib.sha256(repr((self.table, self.windows)).encode())
        for name, expr in self.metrics:
            digest.update(name.encode() + b"\0" + expr.meta.serialize())
        digest.update(b"\0" + (self.where.meta.serialize() if self.where is not None else b"all"))
        return digest.hexdigest()

    @property
    def reach(self) -> int:
        return max(w.end_days for _, w in self.windows)

    @property
    def keep(self) -> pl.Expr:
        return self.where if self.where is not None else pl.lit(True)

    @property
    def outputs(self) -> list[str]:
        return [f"{m}{suffix}" for suffix, _ in self.windows for m, _ in self.metrics]


@dataclass(frozen=True)
class Clocks:
    """The date columns of an event table: when the event happened and when it was recorded (may be absent)."""

    event_at: str
    recorded_at: str | None

    @property
    def event(self) -> pl.Expr:
        return pl.col(self.event_at)

    @property
    def recorded(self) -> pl.Expr:
        return pl.col(self.recorded_at or self.event_at)


def first_visible(dates: pl.Series, *date_exprs: pl.Expr) -> pl.Expr:
    """Index of the first as-of date on or after every given date (== len(dates) when none)."""
    latest = pl.max_horizontal(date_exprs) if len(date_exprs) > 1 else date_exprs[0]
    return pl.lit(dates).search_sorted(latest, side="left").cast(pl.Int32)


def days_before(day: pl.Expr, days: int) -> pl.Expr:
    return day.dt.offset_by(f"-{days}d")


def sum_windows(
    table: pl.LazyFrame, clocks: Clocks, dates: pl.Series, requests: Sequence[WindowRequest]
) -> dict[str, pl.DataFrame]:
    """Every request at every as-of date, from one pass over the table (in chunks of `SUM_CHUNK_ROWS`).

    Were every row visible from its event date on, a window sum would be `C(t - start) - C(t - end)`, `C(x)` being
    the entity's running total of events up to day `x`. `C` is only needed at the cut days `t - bound` of every date
    and bound of the pair's windows, so rows are summed into (entity, interval between cuts) cells, and a
    cumulative sum over the cells gives `C` at every cut. A row recorded after the first as-of date following its
    event ("late") is then taken back out of the dates between its event and its recording.
    Metrics must be integers (amounts in cents, counts), so every sum is exact whatever the grouping.
    """
    reach = max(r.reach for r in requests)
    bounds = sorted({b for r in requests for _, w in r.windows for b in _ends(w)})
    days = dates.to_list()
    pairs = _distinct([_kept(r, e) for r in requests for _, e in r.metrics], "_p")
    used = _windows_of_pairs(requests, pairs)
    plans = _cut_plans(used, days)
    in_reach = (clocks.event > days_before(pl.lit(dates[0]), reach)) & (clocks.event <= pl.lit(dates[-1]))
    # Entities in the order the table holds them: chunks then fill the cell arrays front to back.
    entities = table.filter(in_reach).select(pl.col(ENTITY).unique(maintain_order=True)).collect().to_series()
    position = np.zeros(int(entities.to_numpy().max(initial=0)) + 1, dtype=np.int64)
    position[entities.to_numpy()] = np.arange(len(entities))
    totals, late = _event_totals(table, in_reach, clocks, dates, plans, pairs, position, len(entities))
    hidden = _hidden_late_rows(late, dates, bounds, position)
    late_sums = _late_sums(hidden, bounds, {w for windows in used.values() for w in windows})
    values: dict[tuple[str, Window], np.ndarray] = {}
    for plan in plans:
        for name in plan.names:
            # One metric at a time, in place: a fresh array of this size costs more in page faults than the sum.
            cells = totals.pop(name)
            running = np.cumsum(cells, out=cells).reshape(len(entities), plan.intervals)
            for w in used[name]:
                values[name, w] = _window(running, plan.at(days, w.start_days), plan.at(days, w.end_days))
                if w in late_sums:
                    values[name, w].reshape(-1)[late_sums[w]["_cell"].to_numpy()] -= late_sums[w][name].to_numpy()
    keys = grid_keys(entities, len(days))
    return {request.key: _answer(request, pairs, values, keys) for request in requests}


def _window(running: np.ndarray, start: list[int], end: list[int]) -> np.ndarray:
    """(entities x dates) sums between the cuts `end` and `start` of each date.

    `running` is one cumulative sum over all (entity, interval) cells, so it also holds the totals of the entities
    before each row; they are the same at both cuts of a row and cancel."""
    window = np.take(running, start, axis=1)
    window -= np.take(running, end, axis=1)
    return window


def _answer(
    request: WindowRequest,
    pairs: dict[bytes, pl.Expr],
    values: dict[tuple[str, Window], np.ndarray],
    keys: pl.DataFrame,
) -> pl.DataFrame:
    """A request's frame on the pass's `keys`, its columns the sums themselves (no copy)."""
    columns = [
        pl.Series(f"{metric}{suffix}", values[_name(pairs, _kept(request, expr)), w].reshape(-1))
        for suffix, w in request.windows
        for metric, expr in request.metrics
    ]
    return keys.with_columns(columns)


def _late_sums(hidden: pl.DataFrame, bounds: list[int], windows: set[Window]) -> dict[Window, pl.DataFrame]:
    """Per window, every metric of the late rows it holds at dates that cannot see them yet, by (entity, date) cell."""
    if not hidden.height:
        return {}
    sums = {}
    for w in windows:
        ages = pl.col("_s").is_between(bounds.index(w.start_days) + 1, bounds.index(w.end_days))
        sums[w] = hidden.filter(ages).group_by("_cell").agg(pl.exclude(ENTITY, "_e", K, "_s").sum())
    return sums


@dataclass(frozen=True)
class _CutPlan:
    """The cut days `t - bound` shared by the (filter, metric) pairs summed over windows with the same bounds.

    Each bound set gets its own cuts: a pair asked for 90-day windows only is summed into 2 cells per date, not into
    the cells of every bound of every request (at 12 dates the union is about 120 cuts, most cells one row)."""

    names: tuple[str, ...]
    cuts: tuple[date, ...]

    @property
    def intervals(self) -> int:
        return len(self.cuts) + 1

    def at(self, days: list[date], bound: int) -> list[int]:
        """Index of the cut `t - bound` of each as-of date `t`."""
        return [self.cuts.index(day - timedelta(days=bound)) for day in days]


def _cut_plans(used: dict[str, list[Window]], days: list[date]) -> list[_CutPlan]:
    by_bounds: dict[frozenset[int], list[str]] = {}
    for name, windows in used.items():
        by_bounds.setdefault(frozenset(b for w in windows for b in _ends(w)), []).append(name)
    return [
        _CutPlan(tuple(names), tuple(sorted({day - timedelta(days=b) for day in days for b in bounds})))
        for bounds, names in by_bounds.items()
    ]


def _ends(w: Window) -> tuple[int, int]:
    return w.start_days, w.end_days


def _kept(request: WindowRequest, expr: pl.Expr) -> pl.Expr:
    """The metric where the request's filter holds, 0 elsewhere (and where it is null: sums skip nulls)."""
    return pl.when(request.keep).then(expr).otherwise(0).fill_null(0)


def _windows_of_pairs(requests: Sequence[WindowRequest], pairs: dict[bytes, pl.Expr]) -> dict[str, list[Window]]:
    """The windows each (filter, metric) pair is summed over."""
    used: dict[str, list[Window]] = {}
    for request in requests:
        for _, w in request.windows:
            for _, expr in request.metrics:
                windows = used.setdefault(_name(pairs, _kept(request, expr)), [])
                if w not in windows:
                    windows.append(w)
    return used


def _event_totals(
    table: pl.LazyFrame,
    in_reach: pl.Expr,
    clocks: Clocks,
    dates: pl.Series,
    plans: list[_CutPlan],
    pairs: dict[bytes, pl.Expr],
    position: np.ndarray,
    n_entities: int,
) -> tuple[dict[str, np.ndarray], pl.DataFrame]:
    """Every metric summed per (entity, interval between its plan's cuts) by event date, and the late rows apart."""
    totals = {name: np.zeros(n_entities * plan.intervals, dtype=np.int64) for plan in plans for name in plan.names}
    late = []
    event, recorded = clocks.event, clocks.recorded
    interval = [f"_g{j}" for j in range(len(plans))]  # each row's interval between the cuts of each plan
    intervals = [
        pl.lit(pl.Series(plan.cuts, dtype=pl.Date)).search_sorted(event, side="left").cast(pl.Int64).alias(name)
        for plan, name in zip(plans, interval, strict=True)
    ]
    for rows in slices(table, SUM_CHUNK_ROWS):
        chunk = (
            rows.filter(in_reach)
            .select(
                ENTITY,
                *intervals,
                # Recorded after the first as-of date on or after the event: not yet visible there.
                (first_visible(dates, recorded, event) > first_visible(dates, event)).alias("_late"),
                event.alias("_e"),
                recorded.alias("_r"),
                *pairs.values(),
            )
            .collect()
        )
        _check_integer({name: chunk.schema[name] for name in totals})
        late.append(chunk.filter(pl.col("_late")).drop(*interval, "_late"))
        row_position = position[chunk[ENTITY].to_numpy()]
        for plan, name in zip(plans, interval, strict=True):
            cell = row_position * plan.intervals + chunk[name].to_numpy()
            _add_into_cells({name: totals[name] for name in plan.names}, cell, chunk)
    return totals, pl.concat(late)


def slices(table: pl.LazyFrame, rows: int) -> list[pl.LazyFrame]:
    """`table` in slices of `rows` (at least one, maybe empty). Slice first, then filter: a slice of filtered rows
    would refilter the table from its start for every slice."""
    height = table.select(pl.len()).collect().item()
    return [table.slice(offset, rows) for offset in range(0, max(height, 1), rows)]


def _add_into_cells(totals: dict[str, np.ndarray], cell: np.ndarray, chunk: pl.DataFrame) -> None:
    """Add each metric column of `chunk` into `totals[metric][cell]`, exactly (integer sums).

    `np.add.at` with values of the totals' own dtype takes numpy's fast path, in any row order. On warm memory it
    adds 4M rows in runs of one or two cells 7x faster than summing runs by `np.add.reduceat` (5 ms against 34 ms);
    in a 12-date build the first touch of the fresh totals costs most of the time either way.
    """
    for name, total in totals.items():
        np.add.at(total, cell, chunk[name].to_numpy().astype(total.dtype, copy=False))


def run_starts(values: np.ndarray) -> np.ndarray:
    """Index of the first element of each run of equal values."""
    return np.flatnonzero(np.r_[values.size > 0, values[1:] != values[:-1]])  # none for no values


def _hidden_late_rows(late: pl.DataFrame, dates: pl.Series, bounds: list[int], position: np.ndarray) -> pl.DataFrame:
    """Late rows at each date that cannot see them yet (from the first date on or after the event to the first on or
    after the recording), with their (entity, date) cell `_cell` of the answers and their age segment `_s`: the
    number of window bounds at or below `t - event` (a window `[start, end)` of ages holds segments
    `(start's, end's]`)."""
    e, r = pl.col("_e"), pl.col("_r")
    hidden = late.select(
        ENTITY,
        e,
        pl.int_ranges(first_visible(dates, e), first_visible(dates, r, e)).alias(K),
        pl.exclude(ENTITY, "_e", "_r"),
    ).explode(K)
    age = (pl.lit(dates).gather(pl.col(K)) - e).dt.total_days()
    return hidden.with_columns(
        (pl.lit(position).gather(pl.col(ENTITY)) * len(dates) + pl.col(K)).alias("_cell"),
        pl.lit(pl.Series(bounds)).search_sorted(age, side="right").cast(pl.Int64).alias("_s"),
    ).filter(pl.col("_s") > 0)


def _check_integer(schema: Mapping[str, pl.DataType]) -> None:
    floating = [str(dtype) for dtype in schema.values() if not dtype.is_integer()]
    if floating:
        raise TypeError(
            f"window-sum metrics must be integers (amounts in cents, counts) so sums are exact; got "
            f"{floating}: wrap amounts in features.blocks.generic.cents()"
        )


def grid_keys(entities: pl.Series, n_dates: int) -> pl.DataFrame:
    """(entity_id, _k) of the dense grid: every date index of each entity, in `entities` order."""
    return pl.DataFrame(
        {
            ENTITY: pl.Series(ENTITY, np.repeat(entities.to_numpy(), n_dates), dtype=entities.dtype),
            K: np.tile(np.arange(n_dates, dtype=np.int32), len(entities)),
        }
    )


def _distinct(exprs: Sequence[pl.Expr], prefix: str) -> dict[bytes, pl.Expr]:
    """Each distinct expression once (compared by serialised form), aliased `<prefix><n>`."""
    unique: dict[bytes, pl.Expr] = {}
    for expr in exprs:
        unique.setdefault(expr.meta.serialize(), expr)
    return {key: expr.alias(f"{prefix}{j}") for j, (key, expr) in enumerate(unique.items())}


def _name(named: dict[bytes, pl.Expr], expr: pl.Expr) -> str:
    return named[expr.meta.serialize()].meta.output_name()


def range_deltas(live: pl.DataFrame, n_dates: int) -> pl.DataFrame:
    """Changes of running totals: +value at `lo`, -value at `hi` (rows with `lo < hi`, keyed by entity)."""
    metrics = [c for c in live.columns if c not in (ENTITY, "lo", "hi")]
    starts = live.select(ENTITY, pl.col("lo").alias(K), *metrics)
    ends = live.filter(pl.col("hi") < n_dates).select(ENTITY, pl.col("hi").alias(K), *[-pl.col(m) for m in metrics])
    return pl.concat([starts, ends]).group_by(KEYS).agg(pl.col(metrics).sum())


def dense_running(deltas: pl.DataFrame, entities: pl.Series, n_dates: int) -> pl.DataFrame:
    """Running totals on the dense (entity, date index) grid, entities in `entities` order (sorted).

    Each entity's dates are one row of a (entities x dates) array, so a running total is a cumulative sum along
    axis 1: no sort, no join, exact for integer metrics.
    """
    cells = entities.search_sorted(deltas[ENTITY]).to_numpy().astype(np.int64) * n_dates + deltas[K].to_numpy()
    running = []
    for name in deltas.columns[2:]:
        values = deltas[name].to_numpy()
        grid = np.zeros(len(entities) * n_dates, dtype=values.dtype)
        grid[cells] = values
        running.append(pl.Series(name, grid.reshape(-1, n_dates).cumsum(axis=1).ravel(), dtype=deltas[name].dtype))
    return grid_keys(entities, n_dates).with_columns(running)
