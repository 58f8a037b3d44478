"""Generic, parameterised blocks that work on any table declared by a contract: a new source needs no new code.

Amounts are summed as integer cents, so window sums are exact and independent of row order; they become yuan by one
fixed multiplication at the end (see `yuan`).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from features.asof import ENTITY, KEYS, AsOf, left_join, outer_join
from features.blocks.base import FeatureBlock, FeatureColumn, register_block
from features.windows import Window


def _filter(column: str | None, values: Sequence[str]) -> pl.Expr | None:
    return pl.col(column).is_in(list(values)) if column else None


def cents(column: str) -> pl.Expr:
    return (pl.col(column) * 100).round().cast(pl.Int64)


def yuan(cents_expr: pl.Expr) -> pl.Expr:
    """Cents back to yuan. Never divide by a scalar: polars turns that into a multiplication by the reciprocal on
    multi-row frames only, so one entity and many would differ in the last digit; an explicit product is the same
    whatever the frame's height."""
    return cents_expr.cast(pl.Float64) * 0.01


def safe_ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator, null where the denominator is zero (no basis for a ratio)."""
    return pl.when(denominator != 0).then(numerator / denominator)


def window_stats(
    name: str,
    table: str,
    windows: Sequence[int],
    *,
    label_zh: str,
    label_en: str,
    value: str | None = None,
    filter_column: str | None = None,
    filter_values: Sequence[str] = (),
    owner: str = "riskgen",
    description: str = "",
) -> FeatureBlock:
    """Counts (and sums and means of `value`) of events in trailing windows, optionally filtered by a category."""
    where = _filter(filter_column, filter_values)
    columns = []
    for days in windows:
        columns.append(
            FeatureColumn(
                f"count_{days}d", f"近{days}天{label_zh}数", f"{label_en} in {days} days", "count", 0, days, True
            )
        )
        if value:
            columns.append(
                FeatureColumn(
                    f"sum_{days}d",
                    f"近{days}天{label_zh}金额",
                    f"{label_en} amount, {days} days",
                    "amount",
                    0.0,
                    days,
                    None,
                )
            )
            columns.append(
                FeatureColumn(
                    f"mean_{days}d",
                    f"近{days}天{label_zh}平均金额",
                    f"mean {label_en} amount, {days} days",
                    "amount",
                    None,
                    days,
                    None,
                )
            )

    def compute(view: AsOf) -> pl.DataFrame:
        metrics = {"count": pl.lit(1, dtype=pl.Int64)} | ({"cents": cents(value)} if value else {})
        sums = view.window_sums(table, {f"_{d}d": Window(d) for d in windows}, metrics, where)
        if not value:
            return sums
        derived = []
        for days in windows:
            total = yuan(pl.col(f"cents_{days}d"))
            derived += [total.alias(f"sum_{days}d"), safe_ratio(total, pl.col(f"count_{days}d")).alias(f"mean_{days}d")]
        return sums.with_columns(derived)

    params = (
        ("table", table),
        ("windows", tuple(windows)),
        ("value", value),
        ("filter_column", filter_column),
        ("filter_values", tuple(filter_values)),
    )
    return register_block(
        FeatureBlock(
            name, owner, description or f"{label_en} in trailing windows", (table,), tuple(columns), compute, params
        )
    )


def window_surge(
    name: str,
    table: str,
    recent_days: int,
    baseline_days: int,
    *,
    label_zh: str,
    label_en: str,
    value: str | None = None,
    filter_column: str | None = None,
    filter_values: Sequence[str] = (),
    owner: str = "riskgen",
) -> FeatureBlock:
    """Daily rate in the last `recent_days` divided by the daily rate in the `baseline_days` before them."""
    where = _filter(filter_column, filter_values)
    column = FeatureColumn(
        f"surge_{recent_days}_{baseline_days}d",
        f"近{recent_days}天{label_zh}较前{baseline_days}天倍数",
        f"{label_en}: last {recent_days} days vs the {baseline_days} before",
        "ratio",
        None,
        recent_days,
        True,
    )

    def compute(view: AsOf) -> pl.DataFrame:
        metric = {"m": cents(value) if value else pl.lit(1, dtype=pl.Int64)}
        windows = {"_recent": Window(recent_days), "_before": Window(recent_days + baseline_days, recent_days)}
        sums = view.window_sums(table, windows, metric, where)
        # (recent / recent_days) / (before / baseline_days), as a ratio of two columns (see `yuan`)
        rate = safe_ratio(pl.col("m_recent") * baseline_days, pl.col("m_before") * recent_days)
        return sums.select(*KEYS, rate.alias(column.name))

    params = (
        ("table", table),
        ("recent_days", recent_days),
        ("baseline_days", baseline_days),
        ("value", value),
        ("filter_column", filter_column),
        ("filter_values", tuple(filter_values)),
    )
    return register_block(FeatureBlock(name, owner, f"surge of {label_en}", (table,), (column,), compute, params))


def monthly_trend(
    name: str,
    table: str,
    months: int,
    *,
    label_zh: str,
    label_en: str,
    value: str | None = None,
    filter_column: str | None = None,
    filter_values: Sequence[str] = (),
    owner: str = "riskgen",
) -> FeatureBlock:
    """Least-squares slope of 30-day buckets over the last `months` buckets, relative to their mean."""
    where = _filter(filter_column, filter_values)
    columns = (
        FeatureColumn(
            f"trend_{months}m",
            f"近{months}个月{label_zh}变化趋势",
            f"{label_en} trend over {months} months",
            "ratio",
            None,
            30 * months,
            None,
        ),
        FeatureColumn(
            "last_vs_mean",
            f"最近一月{label_zh}与{months}月均值之比",
            f"{label_en}: last 30 days vs the {months}-month mean",
            "ratio",
            None,
            30,
            None,
        ),
    )

    def compute(view: AsOf) -> pl.DataFrame:
        metric = {"m": cents(value) if value else pl.lit(1, dtype=pl.Int64)}
        joined = view.window_sums(table, {str(j): Window(30 * (j + 1), 30 * j) for j in range(months)}, metric, where)
        joined = joined.rename({f"m{j}": f"b{j}" for j in range(months)})
        # Time runs forward as j falls: bucket j sits at x = -j; slope = cov(x, y) / var(x).
        xs = [-j for j in range(months)]
        x_mean = sum(xs) / months
        y_mean = pl.sum_horizontal([pl.col(f"b{j}") for j in range(months)]).cast(pl.Float64) * (1 / months)
        cov = pl.sum_horizontal([(x - x_mean) * (pl.col(f"b{j}") - y_mean) for j, x in enumerate(xs)])
        var = sum((x - x_mean) ** 2 for x in xs)
        return joined.select(
            *KEYS,
            safe_ratio(cov * (1 / var), y_mean).alias(columns[0].name),
            safe_ratio(pl.col("b0").cast(pl.Float64), y_mean).alias(columns[1].name),
        )

    params = (
        ("table", table),
        ("months", months),
        ("value", value),
        ("filter_column", filter_column),
        ("filter_values", tuple(filter_values)),
    )
    return register_block(FeatureBlock(name, owner, f"monthly trend of {label_en}", (table,), columns, compute, params))


def recency(
    name: str,
    table: str,
    *,
    label_zh: str,
    label_en: str,
    filter_column: str | None = None,
    filter_values: Sequence[str] = (),
    owner: str = "riskgen",
) -> FeatureBlock:
    """Days since the last event (of a kind) recorded by the as-of date; null when there was none."""
    where = _filter(filter_column, filter_values)
    column = FeatureColumn(
        "days_since_last", f"距最近一次{label_zh}天数", f"days since the last {label_en}", "days", None, None, False
    )

    def compute(view: AsOf) -> pl.DataFrame:
        event_at = view.store.contract(table).event_at or ""
        last = view.latest(table, [event_at], where=where)
        return last.select(*KEYS, view.days_since(event_at).alias(column.name))

    params = (("table", table), ("filter_column", filter_column), ("filter_values", tuple(filter_values)))
    return register_block(FeatureBlock(name, owner, f"recency of {label_en}", (table,), (column,), compute, params))


def category_shares(
    name: str,
    table: str,
    column: str,
    categories: dict[str, str],
    window_days: int,
    *,
    label_zh: str,
    label_en: str,
    owner: str = "riskgen",
) -> FeatureBlock:
    """Share of each category among the table's events in a trailing window (`categories`: value -> Chinese label)."""
    columns = tuple(
        FeatureColumn(
            f"share_{value}_{window_days}d",
            f"近{window_days}天{label_zh}中{zh}占比",
            f"share of {value} among {label_en}, {window_days} days",
            "ratio",
            None,
            window_days,
            None,
        )
        for value, zh in categories.items()
    )

    def compute(view: AsOf) -> pl.DataFrame:
        metrics = {"total": pl.lit(1, dtype=pl.Int64)}
        metrics |= {value: (pl.col(column) == value).cast(pl.Int64) for value in categories}
        sums = view.window_sums(table, Window(window_days), metrics)
        shares = [
            safe_ratio(pl.col(v).cast(pl.Float64), pl.col("total")).alias(c.name)
            for v, c in zip(categories, columns, strict=True)
        ]
        return sums.select(*KEYS, *shares)

    params = (("table", table), ("column", column), ("categories", tuple(categories)), ("window_days", window_days))
    return register_block(FeatureBlock(name, owner, f"category mix of {label_en}", (table,), columns, compute, params))


def interval_state(
    name: str,
    table: str,
    *,
    label_zh: str,
    label_en: str,
    change_window_days: int = 365,
    filter_column: str | None = None,
    filter_values: Sequence[str] = (),
    owner: str = "riskgen",
) -> FeatureBlock:
    """State at the as-of date from an interval table: in force or not, days since the last start, recent starts."""
    where = _filter(filter_column, filter_values)
    columns = (
        FeatureColumn("active", f"当前处于{label_zh}", f"currently {label_en}", "flag", 0, None, True),
        FeatureColumn(
            "days_since_start",
            f"距最近一次{label_zh}天数",
            f"days since the last {label_en} began",
            "days",
            None,
            None,
            False,
        ),
        FeatureColumn(
            f"starts_{change_window_days}d",
            f"近{change_window_days}天{label_zh}次数",
            f"{label_en} begun in {change_window_days} days",
            "count",
            0,
            change_window_days,
            True,
        ),
    )

    def compute(view: AsOf) -> pl.DataFrame:
        start = view.store.contract(table).valid_from or ""
        active = view.active_counts(table, where).select(*KEYS, (pl.col("active") > 0).cast(pl.Int8).alias("active"))
        last = view.latest(table, [start], where=where)
        last = last.select(*KEYS, view.days_since(start).alias(columns[1].name))
        starts = view.window_sums(
            table, Window(change_window_days), {columns[2].name: pl.lit(1, dtype=pl.Int64)}, where
        )
        return outer_join([active, last, starts])

    params = (
        ("table", table),
        ("change_window_days", change_window_days),
        ("filter_column", filter_column),
        ("filter_values", tuple(filter_values)),
    )
    return register_block(FeatureBlock(name, owner, f"state of {label_en}", (table,), columns, compute, params))


def peer_relative(
    name: str,
    base: FeatureBlock,
    column: str,
    profile: FeatureBlock,
    by: Sequence[str] = ("sector", "town"),
    owner: str = "riskgen",
) -> FeatureBlock:
    """A base column divided by the median of the same peer group (e.g. sector and town) at the same as-of date."""
    source = base.columns[[c.name for c in base.columns].index(column)]
    peers = "、".join({"sector": "同行业", "town": "同镇街"}.get(b, b) for b in by)
    out = FeatureColumn(
        f"{column}_peer_ratio",
        f"{source.label_zh}为{peers}中位数的倍数",
        f"{source.label_en} relative to the peer median ({', '.join(by)})",
        "ratio",
        None,
        source.window_days,
        source.higher_is_riskier,
    )

    def compute(view: AsOf) -> pl.DataFrame:
        # An entity whose profile is not known at the date has no peer group (not a group of its own "unknown" peers).
        groups = profile.run(view).select(*KEYS, *by).drop_nulls(list(by))
        values = left_join(groups, base.run(view).select(*KEYS, column))
        values = values.with_columns(pl.col(column).fill_null(source.default))
        median = pl.col(column).median().over(["_k", *by])
        return values.select(*KEYS, safe_ratio(pl.col(column), median).alias(out.name))

    params = (("base", base.name), ("column", column), ("by", tuple(by)))
    return register_block(
        FeatureBlock(
            name,
            owner,
            f"{source.label_en} against peers",
            (*base.tables, *profile.tables),
            (out,),
            compute,
            params,
            depends_on=(base, profile),
        )
    )


def static_attributes(
    name: str,
    table: str,
    *,
    age_from: str | None,
    numbers: dict[str, tuple[str, str]],
    categories: dict[str, tuple[str, str]],
    owner: str = "riskgen",
) -> FeatureBlock:
    """Attributes of the entity row visible at the as-of date: age in days, numbers (log1p) and categories."""
    columns = (
        [FeatureColumn("age_days", "成立天数", "days since registration", "days", None, None, False)]
        if age_from
        else []
    )
    columns += [
        FeatureColumn(f"log_{c}", f"{zh}(对数)", f"log1p of {en}", "number", None) for c, (zh, en) in numbers.items()
    ]
    columns += [FeatureColumn(c, zh, en, "category", None) for c, (zh, en) in categories.items()]

    def compute(view: AsOf) -> pl.DataFrame:
        contract = view.store.contract(table)
        wanted = [*([age_from] if age_from else []), *numbers, *categories]
        rows = view.latest(table, wanted, order_by=contract.recorded_at)
        derived = [view.days_since(age_from).alias("age_days")] if age_from else []
        derived += [pl.col(c).log1p().alias(f"log_{c}") for c in numbers]
        return rows.select(*KEYS, *derived, *categories)

    params = (("table", table), ("age_from", age_from), ("numbers", tuple(numbers)), ("categories", tuple(categories)))
    return register_block(
        FeatureBlock(name, owner, f"attributes of {table}", (table,), tuple(columns), compute, params)
    )


__all__ = [
    "ENTITY",
    "category_shares",
    "interval_state",
    "monthly_trend",
    "peer_relative",
    "recency",
    "static_attributes",
    "window_stats",
    "window_surge",
]
