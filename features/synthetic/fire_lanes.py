"""A synthetic fire-lane (消防车道) world: monitored lanes, their occupation alerts and verified incidents.

The entity is a lane, not an enterprise: ids look like FL-330109-000123 and no table carries a credit code.

Latent process. Every lane has a blockage propensity: lanes at markets, old communities, hospitals and commercial
centres are blocked more, each lane has its own level, and the rate follows a weekly rhythm (weekends at markets
and housing, school days at schools) and the seasons (school holidays; the Spring Festival, when families come home
with cars). On top, a lane enters *parking-pressure* episodes (a new shop, building works, a closed car park): a
weekly Markov switch whose pressure builds up over weeks and fades after the episode. Pressure multiplies alerts and
lengthens them, so long-duration alerts (>60 min) rise first; the daily incident rate is proportional to the expected
number of long alerts, so incidents follow periods of rising long-duration alerts. Devices sometimes go offline for
a week or more: no alerts, while blockage (and incidents) go on.

`true_hazard.parquet` holds, per lane and month, the probability of at least one incident that month (the oracle).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

import features.tables_fire_lanes as contracts
from features.reference import TOWNS, XIAOSHAN_DIVISION
from features.synthetic.fundraising import NEVER, date_series, lags, pick, publish_world
from features.synthetic.months import MonthGrid, month_grid, to_days
from features.synthetic.names import TRADE_NAMES, grid_cell_ids
from features.synthetic.profiles import grid_cells_per_town
from features.synthetic.writer import WorldSummary

GENERATOR_VERSION = "1"
TRUE_HAZARD = "true_hazard"
TYPE_NAMES: tuple[str, ...] = tuple(contracts.LANE_TYPES)
TYPE_SHARE = np.array([0.32, 0.26, 0.08, 0.10, 0.10, 0.04, 0.10])
# log-rate effect, typical duration (min), weekday and weekend factors, pressure-episode proneness (log)
TYPE_EFFECT = np.array([0.6, -0.4, 0.9, 0.2, 0.4, 0.5, 0.0])
TYPE_MEDIAN_MIN = np.array([14.0, 10.0, 11.0, 8.0, 12.0, 10.0, 18.0])
WEEKDAY = np.array([0.9, 0.9, 1.0, 1.25, 0.9, 1.0, 1.15])
WEEKEND = np.array([1.35, 1.3, 1.45, 0.3, 1.5, 1.0, 0.5])
PRONENESS = np.array([0.5, -0.3, 0.7, 0.1, 0.2, 0.0, 0.0])
# How dangerous a long blockage is: narrow old lanes and hospital access worst, wide new estates least.
DANGER = np.array([1.6, 0.6, 1.2, 0.8, 1.0, 1.8, 0.7])
VEHICLE_NAMES: tuple[str, ...] = tuple(contracts.VEHICLE_TYPES)
# car, truck, tricycle, e_bike, stall
VEHICLE_MIX = np.array(
    [
        [0.70, 0.05, 0.07, 0.12, 0.06],
        [0.80, 0.06, 0.03, 0.08, 0.03],
        [0.22, 0.25, 0.28, 0.05, 0.20],
        [0.78, 0.04, 0.03, 0.14, 0.01],
        [0.55, 0.32, 0.05, 0.05, 0.03],
        [0.85, 0.05, 0.03, 0.06, 0.01],
        [0.35, 0.55, 0.06, 0.03, 0.01],
    ]
)
PRESSURE_MIX = np.array([0.30, 0.30, 0.15, 0.05, 0.20])  # long blockages in an episode: trucks and stalls
BASE_RATE = 0.09  # alerts per lane-day at a typical lane
DURATION_SIGMA = 1.0
LONG_MIN, PROLONGED_MIN = contracts.LEVEL_BOUNDS_MIN[1], contracts.LEVEL_BOUNDS_MIN[0]
INCIDENT_PER_LONG = 0.009  # incidents per expected long alert (at full pressure, x PRESSURE_RISK + 1)
RAMP_WEEKS = 6.0  # pressure builds up over about six weeks
EPISODE_START, EPISODE_END = 0.0025, 0.03  # weekly probabilities: an episode lasts about 33 weeks
PRESSURE_RISK = 3.0  # a long blockage in a pressure episode is more dangerous (nobody moves the car)
BASE_INCIDENT = 2e-5  # incidents per lane-day whatever the alerts (blind spots, night-time blockages)
PLACE_WORDS: tuple[str, ...] = (
    "湘湖", "金山", "东河", "新华", "城南", "城北", "桃源", "文化", "育才", "永兴",
    "南江", "北塘", "联华", "江寺", "萧然", "回澜", "崇化", "紫霞", "潘水", "高桥",
    "长巷", "银河", "金城", "风情", "山阴", "道源", "振宁", "民丰", "东藩", "凤凰",
    "航民", "钱江", "新港", "瓜沥", "坎山", "党山", "义盛", "新湾", "前进", "红山",
)  # fmt: skip
SEVERITY_NAMES: tuple[str, ...] = tuple(contracts.INCIDENT_SEVERITIES)
HISTORY_START = date(2021, 3, 1)  # first device installations


@dataclass(frozen=True)
class _Lanes:
    lane_type: np.ndarray
    town: np.ndarray
    community: np.ndarray  # community names
    cell: np.ndarray
    base: np.ndarray  # log alert rate
    median_min: np.ndarray
    length_m: np.ndarray
    installed: np.ndarray  # day
    removed: np.ndarray  # day, NEVER when still in place

    def __len__(self) -> int:
        return len(self.lane_type)


def generate_fire_lane_world(
    out_dir: Path,
    n_lanes: int = 1391,
    start: date = date(2023, 1, 1),
    end: date = date(2026, 6, 30),
    seed: int = 7,
    progress: bool = False,
) -> WorldSummary:
    """Generate the fire-lane world and publish it atomically in `out_dir`.

    Writes fire_lanes, lane_alerts and lane_incidents (their contracts' exact columns), the oracle
    `true_hazard.parquet` (lane_id, month, hazard) and the sender `manifest.json` last. Deterministic per seed.

    Args:
        out_dir: destination folder; an existing world there (a folder with manifest.json) is replaced.
        n_lanes: number of monitored lanes (Xiaoshan runs 1,391 devices).
        start, end: the window of alerts and incidents; nothing dated or recorded after `end` is emitted.
        seed: world seed.
        progress: print one line per table.
    """
    if n_lanes < 1:
        raise ValueError(f"n_lanes must be positive, got {n_lanes}")
    began = time.perf_counter()
    grid = month_grid(start, end)
    lane_rng, pressure_rng, alert_rng, incident_rng = np.random.default_rng([seed, 30]).spawn(4)
    lanes = _sample_lanes(lane_rng, n_lanes, grid)
    ids = np.array([f"FL-{XIAOSHAN_DIVISION}-{i:06d}" for i in range(1, n_lanes + 1)], dtype=object)
    days = np.arange(grid.start_day, grid.end_day + 1)
    active = (days[None, :] >= lanes.installed[:, None]) & (days[None, :] < lanes.removed[:, None])
    level, online = _pressure(pressure_rng, n_lanes, days.size)
    rate, p_long, p_prolonged = _alert_rates(lanes, level, days)
    danger = DANGER[lanes.lane_type] * (lanes.length_m / 80.0) ** 0.4  # longer lanes: more places to block
    expected_long = rate * p_long * (1 + PRESSURE_RISK * level**2)
    incident_rate = np.where(active, BASE_INCIDENT + INCIDENT_PER_LONG * danger[:, None] * expected_long, 0.0)
    month_of_day = np.searchsorted(grid.last, days)
    expected = np.zeros((n_lanes, grid.n))
    np.add.at(expected.T, month_of_day, incident_rate.T)
    hazard = 1 - np.exp(-expected)
    tables = {
        "fire_lanes": _lane_table(lane_rng, lanes, ids, grid),
        "lane_alerts": _alerts(alert_rng, lanes, ids, rate * (active & online), p_long, p_prolonged, level, days),
        "lane_incidents": _incidents(incident_rng, ids, incident_rate, days, grid.end_day),
        TRUE_HAZARD: _true_hazard(lanes, ids, hazard, grid),
    }
    params = {
        "generator": "fire_lanes", "n_lanes": n_lanes, "start": start.isoformat(), "end": end.isoformat(),
        "seed": seed, "version": GENERATOR_VERSION,
    }  # fmt: skip
    rows = publish_world(Path(out_dir), tables, params, oracle_tables=(TRUE_HAZARD,))
    if progress:
        for name, count in rows.items():
            print(f"  {name:<16} {count:>10,} rows")
    return WorldSummary(Path(out_dir), rows, time.perf_counter() - began)


def _sample_lanes(rng: np.random.Generator, n: int, grid: MonthGrid) -> _Lanes:
    lane_type = rng.choice(len(TYPE_NAMES), size=n, p=TYPE_SHARE / TYPE_SHARE.sum())
    weights = np.array([9, 8, 7, 7, 8, 6, 4, 7, 3, 2, 2, 4, 3, 3, 1.5, 1.5, 2, 2, 2])
    town = rng.choice(len(TOWNS), size=n, p=weights / weights.sum())
    # Each town has its own communities (社区 in streets, 村 in towns); a lane belongs to one of them.
    per_town = [rng.choice(len(PLACE_WORDS), size=int(rng.integers(6, 16)), replace=False) for _ in TOWNS]
    suffix = np.array(["社区" if t.endswith("街道") else "村" for t in TOWNS], dtype=object)
    slot = np.floor(rng.random(n) ** 1.5 * np.array([len(p) for p in per_town])[town]).astype(np.int64)
    words = np.array([PLACE_WORDS[per_town[t][s]] for t, s in zip(town, slot, strict=True)], dtype=object)
    community = words + suffix[town]
    cells = grid_cells_per_town()[town]
    cell = np.minimum(1 + np.floor(rng.random(n) * cells).astype(np.int64), cells)
    street = np.array([t.endswith("街道") for t in TOWNS])[town]  # denser streets park more on lanes
    base = np.log(BASE_RATE) + TYPE_EFFECT[lane_type] + np.where(street, 0.2, -0.1) + rng.normal(0, 0.5, n)
    median_min = TYPE_MEDIAN_MIN[lane_type] * np.exp(rng.normal(0, 0.25, n))
    length_m = np.round(np.clip(np.exp(rng.normal(np.log(80), 0.6, n)), 10, 800), 1)
    early = to_days(HISTORY_START) + np.floor(rng.random(n) * (grid.start_day - to_days(HISTORY_START)))
    late = grid.start_day + np.floor(rng.random(n) * (grid.end_day - 150 - grid.start_day))
    installed = np.where(rng.random(n) < 0.75, early, late).astype(np.int64)
    removed_day = installed + 180 + np.floor(rng.random(n) * 900).astype(np.int64)
    removed = np.where((rng.random(n) < 0.04) & (removed_day < grid.end_day), removed_day, NEVER)
    return _Lanes(lane_type, town, community, cell, base, median_min, length_m, installed, removed)


def _pressure(rng: np.random.Generator, n: int, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Daily pressure level (0..1) from weekly episodes, and whether the device was online that day."""
    weeks = -(-n_days // 7)
    proneness = np.exp(rng.normal(0, 0.5, n))
    state = rng.random(n) < 0.06
    weeks_in = np.where(state, rng.integers(0, 10, n), 0)
    level = np.where(state, 1 - np.exp(-weeks_in / RAMP_WEEKS), 0.0)
    offline = np.zeros(n, dtype=bool)
    levels = np.empty((n, weeks))
    online = np.empty((n, weeks), dtype=bool)
    for w in range(weeks):
        start = ~state & (rng.random(n) < EPISODE_START * proneness)
        stop = state & (rng.random(n) < EPISODE_END)
        state = (state | start) & ~stop
        weeks_in = np.where(state, weeks_in + 1, 0)
        level = np.where(state, 1 - np.exp(-weeks_in / RAMP_WEEKS), 0.7 * level)
        offline = np.where(offline, rng.random(n) > 0.4, rng.random(n) < 0.008)
        levels[:, w], online[:, w] = level, ~offline
    return np.repeat(levels, 7, axis=1)[:, :n_days], np.repeat(online, 7, axis=1)[:, :n_days]


def _normal_sf(x: np.ndarray) -> np.ndarray:
    """Upper tail of the standard normal (logistic approximation, ample for a synthetic world)."""
    return 1.0 / (1.0 + np.exp(1.702 * x))


def _alert_rates(lanes: _Lanes, level: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected alerts per lane-day, and the probability that an alert is long / at least prolonged."""
    when = days.astype("datetime64[D]")
    month = when.astype("datetime64[M]").astype(np.int64) % 12 + 1
    weekend = ((days + 3) % 7) >= 5  # 1970-01-01 was a Thursday
    t = lanes.lane_type
    week = np.where(weekend[None, :], WEEKEND[t][:, None], WEEKDAY[t][:, None])
    school = t == TYPE_NAMES.index("school")
    housing = np.isin(t, [TYPE_NAMES.index("old_community"), TYPE_NAMES.index("new_community")])
    season = np.ones((len(lanes), days.size))
    season = np.where(school[:, None] & np.isin(month, (2, 7, 8))[None, :], 0.3, season)
    season = np.where(housing[:, None] & np.isin(month, (1, 2))[None, :], 1.35, season)
    season = np.where(housing[:, None] & (month == 12)[None, :], 1.15, season)
    rate = np.exp(lanes.base)[:, None] * week * season * (1 + 2.5 * level)
    log_median = np.log(lanes.median_min)[:, None] + np.log1p(3.0 * level)
    p_long = _normal_sf((np.log(LONG_MIN) - log_median) / DURATION_SIGMA)
    p_prolonged = _normal_sf((np.log(PROLONGED_MIN) - log_median) / DURATION_SIGMA)
    return rate, p_long, p_prolonged


def _lane_table(rng: np.random.Generator, lanes: _Lanes, ids: np.ndarray, grid: MonthGrid) -> pl.DataFrame:
    n = len(lanes)
    trade = np.array(TRADE_NAMES, dtype=object)[rng.integers(0, len(TRADE_NAMES), n)]
    building = rng.integers(1, 30, n).astype(str).astype(object)
    side = np.array(["东侧", "南侧", "西侧", "北侧"], dtype=object)[rng.integers(0, 4, n)]
    place = np.select(
        [lanes.lane_type == k for k in range(len(TYPE_NAMES))],
        [
            building + "幢" + side,
            trade + "苑" + building + "幢" + side,
            "农贸市场" + side,
            trade + "小学" + side,
            trade + "广场" + side,
            "医院急诊通道" + side,
            trade + "工业园" + building + "号",
        ],
    )
    name = lanes.community + place + "消防车道"
    recorded = np.minimum(lanes.installed + lags(rng, n, 0, 14), grid.end_day)
    return pl.DataFrame(
        {
            "lane_id": pl.Series(ids, dtype=pl.String),
            "name": pl.Series(name, dtype=pl.String),
            "community": pl.Series(lanes.community, dtype=pl.String),
            "town": pl.Series(np.array(TOWNS, dtype=object)[lanes.town], dtype=pl.String),
            "grid_cell": pl.Series(grid_cell_ids(lanes.town, lanes.cell), dtype=pl.String),
            "lane_type": pl.Series(np.array(TYPE_NAMES, dtype=object)[lanes.lane_type], dtype=pl.String),
            "length_m": pl.Series(lanes.length_m, dtype=pl.Float64),
            "installed_at": date_series(lanes.installed),
            "decommissioned_at": date_series(lanes.removed),
            "recorded_at": date_series(recorded),
        }
    ).select(contracts.FIRE_LANES.column_names)


def _alerts(
    rng: np.random.Generator,
    lanes: _Lanes,
    ids: np.ndarray,
    rate: np.ndarray,
    p_long: np.ndarray,
    p_prolonged: np.ndarray,
    level: np.ndarray,
    days: np.ndarray,
) -> pl.DataFrame:
    counts = rng.poisson(rate)
    lane, d = np.nonzero(counts)
    reps = counts[lane, d]
    lane, d = np.repeat(lane, reps), np.repeat(d, reps)
    day = days[d]
    log_median = np.log(lanes.median_min[lane]) + np.log1p(3.0 * level[lane, d])
    duration = np.round(np.clip(np.exp(rng.normal(log_median, DURATION_SIGMA)), 3.0, 24 * 60.0), 1)
    level_name = np.where(duration < PROLONGED_MIN, "brief", np.where(duration < LONG_MIN, "prolonged", "long"))
    pressure = level[lane, d][:, None]
    mix = (1 - pressure) * VEHICLE_MIX[lanes.lane_type[lane]] + pressure * PRESSURE_MIX[None, :]
    vehicle = pick(rng, mix)
    dispatched = rng.random(lane.size) < np.where(level_name == "long", 0.85, np.where(level_name == "brief", 0.2, 0.6))
    recorded = day + np.where(rng.random(lane.size) < 0.9, 0, rng.integers(1, 3, lane.size))
    keep = recorded <= days[-1]
    order = np.lexsort((lane[keep], day[keep]))
    lane, day, recorded = lane[keep][order], day[keep][order], recorded[keep][order]
    duration, level_name = duration[keep][order], level_name[keep][order]
    vehicle, dispatched = vehicle[keep][order], dispatched[keep][order]
    return pl.DataFrame(
        {
            "alert_id": pl.Series([f"LA{i:09d}" for i in range(1, lane.size + 1)], dtype=pl.String),
            "lane_id": pl.Series(ids[lane], dtype=pl.String),
            "event_at": date_series(day),
            "recorded_at": date_series(recorded),
            "duration_min": pl.Series(duration, dtype=pl.Float64),
            "level": pl.Series(level_name, dtype=pl.String),
            "vehicle_type": pl.Series(np.array(VEHICLE_NAMES, dtype=object)[vehicle], dtype=pl.String),
            "dispatched": pl.Series(dispatched, dtype=pl.Boolean),
        }
    ).select(contracts.LANE_ALERTS.column_names)


def _incidents(
    rng: np.random.Generator, ids: np.ndarray, incident_rate: np.ndarray, days: np.ndarray, end_day: int
) -> pl.DataFrame:
    counts = rng.poisson(incident_rate)
    lane, d = np.nonzero(counts)
    lane, d = np.repeat(lane, counts[lane, d]), np.repeat(d, counts[lane, d])
    day = days[d]
    severity = rng.choice(len(SEVERITY_NAMES), size=lane.size, p=[0.5, 0.35, 0.15])
    recorded = day + lags(rng, lane.size, 1, 25)
    keep = recorded <= end_day
    order = np.lexsort((lane[keep], day[keep]))
    lane, day, recorded, severity = lane[keep][order], day[keep][order], recorded[keep][order], severity[keep][order]
    return pl.DataFrame(
        {
            "incident_id": pl.Series([f"LI{i:07d}" for i in range(1, lane.size + 1)], dtype=pl.String),
            "lane_id": pl.Series(ids[lane], dtype=pl.String),
            "occurred_at": date_series(day),
            "recorded_at": date_series(recorded),
            "severity": pl.Series(np.array(SEVERITY_NAMES, dtype=object)[severity], dtype=pl.String),
        }
    ).select(contracts.LANE_INCIDENTS.column_names)


def _true_hazard(lanes: _Lanes, ids: np.ndarray, hazard: np.ndarray, grid: MonthGrid) -> pl.DataFrame:
    present = (lanes.installed[:, None] <= grid.last[None, :]) & (lanes.removed[:, None] > grid.first[None, :])
    lane, m = np.nonzero(present)
    return pl.DataFrame(
        {
            "lane_id": pl.Series(ids[lane], dtype=pl.String),
            "month": date_series(grid.first[m]),
            "hazard": pl.Series(hazard[lane, m], dtype=pl.Float32),
        }
    )


__all__ = ["generate_fire_lane_world"]
