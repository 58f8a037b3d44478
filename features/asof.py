"""The point-in-time view: the only way feature blocks read data.

As of date `t` a row is visible only when `recorded_at <= t` and its event date `<= t`. Many as-of dates are answered
in one pass: every row contributes to a contiguous range of as-of dates `[lo, hi)` (from the first date that can see
it to the first date its window has moved past), so window sums become prefix sums of +value at `lo` and -value at
`hi` (bucketed prefix sums), and "latest row as of t" becomes an as-of join on the date a row becomes visible.
12 monthly dates cost little more than one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from features.contracts import Column, TableContract
from features.store import TableStore

ENTITY = "entity_id"
ENTITY_ID = "_entity"  # the entity's own id (a credit code, a lane id); ENTITY holds its integer code in a view
K = "_k"  # index of the as-of date within AsOf.dates
KEYS = (ENTITY, K)


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


@dataclass
class AsOf:
    """A view of a `TableStore` as of one or more dates, for the entities of one entity table.

    Every method returns a frame keyed by (`entity_id`, `_k`), `_k` indexing `dates`. Results of blocks are cached so
    blocks can build on each other (`block`).
    """

    store: TableStore
    dates: tuple[date, ...]
    entity_table: str
    _cache: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)
    _tables: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if list(self.dates) != sorted(set(self.dates)):
            raise ValueError("as-of dates must be sorted and unique")
        self._dates = pl.Series("as_of", self.dates, dtype=pl.Date)
        key = self.store.contract(self.entity_table).entity_key
        ids = self.store.frame(self.entity_table).select(pl.col(key).alias(ENTITY_ID)).unique().collect()
        # Entities travel as integer codes: every group-by, sort and join over millions of events is then on u32.
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
            frame = self.store.frame(name).rename({contract.entity_key: ENTITY_ID})
            if contract.recorded_at:
                frame = frame.filter(pl.col(contract.recorded_at) <= self.dates[-1])
            keep = [c.name for c in contract.columns if c.name != contract.entity_key and _kept(c, contract)]
            frame = frame.join(self.codes.lazy(), on=ENTITY_ID, how="inner").select(ENTITY, *keep)
            categorical = [c.name for c in contract.columns if c.allowed is not None and c.name in keep]
            self._tables[name] = frame.with_columns(pl.col(categorical).cast(pl.Categorical)).collect(
                engine="streaming"
            )
        return self._tables[name].lazy()

    def decode(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Replace entity codes by the entities' ids."""
        return (
            frame.join(self.codes, on=ENTITY, how="left").with_columns(pl.col(ENTITY_ID).alias(ENTITY)).drop(ENTITY_ID)
        )

    def first_visible(self, *date_exprs: pl.Expr) -> pl.Expr:
        """Index of the first as-of date on or after every given date (== n_dates when none)."""
        latest = pl.max_horizontal(date_exprs) if len(date_exprs) > 1 else date_exprs[0]
        return pl.lit(self._dates).search_sorted(latest, side="left").cast(pl.Int32)

    def visible_from(self, name: str) -> pl.Expr:
        """Index of the first as-of date that may see a row: both clocks must have passed."""
        contract = self.store.contract(name)
        clocks = [pl.col(c) for c in (contract.recorded_at, contract.event_at) if c]
        return self.first_visible(*clocks)

    def range_sums(self, rows: pl.LazyFrame, metrics: Sequence[str]) -> pl.DataFrame:
        """Sum each metric of rows over as-of dates: a row adds its value to every date index in `[lo, hi)`.

        `rows` has `entity_id`, `lo`, `hi` and the metric columns. Integer metrics stay exact.
        """
        return self._spread_running([self._running_sums(rows, metrics)], metrics)

    def _running_sums(self, rows: pl.LazyFrame, metrics: Sequence[str]) -> pl.LazyFrame:
        """Running totals at the date indices where they change (+value at `lo`, -value at `hi`)."""
        # Rows sharing (entity, lo, hi) act alike: pre-aggregating them first makes one date cost one group-by.
        live = rows.filter(pl.col("lo") < pl.col("hi")).group_by(ENTITY, "lo", "hi").agg(pl.col(metrics).sum())
        starts = live.select(ENTITY, pl.col("lo").alias(K), *metrics)
        ends = live.filter(pl.col("hi") < self.n_dates).select(
            ENTITY, pl.col("hi").alias(K), *[-pl.col(m) for m in metrics]
        )
        deltas = pl.concat([starts, ends]).group_by(KEYS).agg(pl.col(metrics).sum())
        return deltas.sort(KEYS).with_columns(pl.col(metrics).cum_sum().over(ENTITY))

    def _spread_running(self, parts: Sequence[pl.LazyFrame], columns: Sequence[str]) -> pl.DataFrame:
        joined = parts[0]
        for part in parts[1:]:
            joined = joined.join(part, on=list(KEYS), how="full", coalesce=True)
        # A running total holds until its next change, whichever part changed at this index.
        filled = joined.sort(KEYS).with_columns(pl.col(columns).forward_fill().over(ENTITY)).collect()
        return self.spread(filled).with_columns(pl.col(columns).fill_null(0))

    def window_sums(
        self,
        name: str,
        window: Window | Mapping[str, Window],
        metrics: Mapping[str, pl.Expr],
        where: pl.Expr | None = None,
    ) -> pl.DataFrame:
        """Sums of metric expressions over the events of `name` inside a window, as of every date.

        With one `Window` the columns are the metric names; with a mapping `{suffix: Window}` they are
        `<metric><suffix>`, all computed in one pass over the table.
        """
        windows = {"": window} if isinstance(window, Window) else dict(window)
        event_at = pl.col(self._event_at(name))
        recorded = self.store.contract(name).recorded_at
        reach = max(w.end_days for w in windows.values())
        frame = self.table(name) if where is None else self.table(name).filter(where)
        frame = frame.filter(event_at > pl.lit(self.dates[0]).dt.offset_by(f"-{reach}d"))  # no window reaches these
        base = frame.select(
            ENTITY,
            event_at.alias("_e"),
            pl.col(recorded or event_at.meta.output_name()).alias("_r"),
            *[expr.alias(m) for m, expr in metrics.items()],
        )
        if self.n_dates == 1:
            return self._window_sums_one_date(base, windows, list(metrics))
        parts, columns = [], []
        for suffix, w in windows.items():
            named = [f"{m}{suffix}" for m in metrics]
            rows = base.select(
                ENTITY,
                self.first_visible(pl.col("_r"), pl.col("_e").dt.offset_by(f"{w.start_days}d")).alias("lo"),
                self.first_visible(pl.col("_e").dt.offset_by(f"{w.end_days}d")).alias("hi"),
                *[pl.col(m).alias(n) for m, n in zip(metrics, named, strict=True)],
            )
            parts.append(self._running_sums(rows, named))
            columns += named
        return self._spread_running(parts, columns)

    def _window_sums_one_date(self, base: pl.LazyFrame, windows: dict[str, Window], metrics: list[str]) -> pl.DataFrame:
        """One as-of date (the nightly run): every window and metric in a single group-by of the visible rows."""
        t = pl.lit(self.dates[0])
        visible = base.filter((pl.col("_r") <= t) & (pl.col("_e") <= t))
        sums = []
        for suffix, w in windows.items():
            inside = (pl.col("_e") > t.dt.offset_by(f"-{w.end_days}d")) & (
                pl.col("_e") <= t.dt.offset_by(f"-{w.start_days}d")
            )
            sums += [pl.col(m).filter(inside).sum().alias(f"{m}{suffix}") for m in metrics]
        grouped = visible.group_by(ENTITY).agg(sums).with_columns(pl.lit(0, dtype=pl.Int32).alias(K))
        # Streaming keeps only the group states in memory, not every visible row with its metric columns.
        return grouped.select(ENTITY, K, pl.exclude(ENTITY, K)).collect(engine="streaming")

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

        A late-arriving older row never replaces a newer one; a row recorded after `t` is never seen at `t`.
        """
        order = order_by or self._event_at(name)
        frame = self.table(name) if where is None else self.table(name).filter(where)
        rows = frame.select(ENTITY, self.visible_from(name).alias(K), pl.col(order).alias("_order"), *columns)
        rows = rows.filter(pl.col(K) < self.n_dates)
        if set(columns) <= {order}:  # only the order key itself (recency): a group-by max is the whole answer
            best = rows.group_by(KEYS).agg(pl.col("_order", *columns).max()).sort(KEYS)
        else:
            best = _best_rows(rows, list(columns))
        record = best.filter(pl.col("_order") >= pl.col("_order").cum_max().over(ENTITY))
        return self.spread(record.collect()).drop("_order")

    def spread(self, changes: pl.DataFrame) -> pl.DataFrame:
        """Carry values known at some date indices forward to every later index (entities with rows only)."""
        indices = pl.DataFrame({K: range(self.n_dates)}, schema={K: pl.Int32})
        grid = changes.select(pl.col(ENTITY).unique()).join(indices, how="cross").sort(KEYS)
        changes = changes.with_columns(pl.col(K).cast(pl.Int32)).sort(KEYS)
        return grid.join_asof(changes, on=K, by=ENTITY, strategy="backward", check_sortedness=False)

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

    def _event_at(self, name: str) -> str:
        contract = self.store.contract(name)
        if contract.event_at is None:
            raise ValueError(f"table {name} declares no event_at column")
        return contract.event_at


def _best_rows(rows: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """The row with the greatest `_order` of each (entity, date index). Rows tied on the order key are resolved by
    their values, so the result never depends on row order; only the (rare) tied rows are sorted."""
    best = rows.filter(pl.col("_order") == pl.col("_order").max().over(KEYS))
    tied = pl.struct(KEYS).is_duplicated()
    resolved = (
        best.filter(tied).sort([*KEYS, *columns], nulls_last=False).unique(KEYS, keep="last", maintain_order=True)
    )
    return pl.concat([best.filter(~tied), resolved]).sort(KEYS)


def _kept(column: Column, contract: TableContract) -> bool:
    """Free text (names, summaries), personal data and row ids are never feature inputs: leave them on disk."""
    row_id = column.name in contract.keys and column.dtype == pl.String and column.allowed is None
    return not (column.free_text or column.pii or row_id)


def outer_join(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Full join of (entity_id, _k)-keyed frames."""
    result = frames[0]
    for frame in frames[1:]:
        result = result.join(frame, on=list(KEYS), how="full", coalesce=True)
    return result
