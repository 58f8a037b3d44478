"""Small inline SVG charts for dossiers: pure functions from numbers to SVG markup.

No JavaScript, no external resources, deterministic output (coordinates rounded to 0.1 px) so a dossier renders the same
bytes for the same inputs. Every piece of text that reaches the markup (titles, legends, labels, colours) goes
through `html.escape`, so the strings returned here are safe to insert into an HTML page as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Literal

Formatter = Callable[[float], str]

INK = "#1f2933"
MUTED = "#6b7785"
GRID = "#e3e7ec"
FONT = "'Noto Sans CJK SC','Noto Sans SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
RISK_UP = "#c0392b"  # a contribution that raises the risk score
RISK_DOWN = "#2e7d6b"  # a contribution that lowers it
NEUTRAL = "#5b6b7c"


@dataclass(frozen=True)
class Series:
    """One series of a chart: a name for the legend, values aligned with the x labels (None = no data)."""

    name: str
    values: Sequence[float | None]
    colour: str
    kind: Literal["line", "bar", "area"] = "line"


def compact_number(value: float, lang: str = "zh") -> str:
    """Axis-friendly numbers: 12345 -> "1.2万" (zh) or "12.3k" (en); small values keep up to one decimal."""
    sign = "-" if value < 0 else ""
    v = abs(value)
    units: tuple[tuple[float, str], ...] = (
        ((1e8, "亿"), (1e4, "万")) if lang == "zh" else ((1e9, "B"), (1e6, "M"), (1e3, "k"))
    )
    for size, unit in units:
        if v >= size:
            return f"{sign}{_trim(v / size)}{unit}"
    return f"{sign}{_trim(v)}"


def _trim(v: float) -> str:
    text = f"{v:.1f}" if v < 100 else f"{v:.0f}"
    return text[:-2] if text.endswith(".0") else text


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1.0
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    tick = start
    while tick < high + step * 0.5:
        ticks.append(round(tick, 10))
        tick += step
    if ticks[-1] < high:
        ticks.append(round(tick, 10))
    return ticks


def _f(x: float) -> str:
    """A coordinate, rounded so output is deterministic and compact."""
    text = f"{x:.1f}"
    return "0" if text == "-0.0" else text


def _open(width: int, height: int, label: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" role="img" aria-label="{escape(label)}" '
        f'font-family="{escape(FONT)}" font-size="11" class="chart">',
        f"<title>{escape(label)}</title>",
    ]


def _text(x: float, y: float, text: str, *, anchor: str = "start", colour: str = MUTED, size: float = 11) -> str:
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" fill="{escape(colour)}" font-size="{_f(size)}">'
        f"{escape(text)}</text>"
    )


def _legend(series: Sequence[Series], x: float, y: float) -> list[str]:
    parts = []
    for s in series:
        swatch = (
            f'<rect x="{_f(x)}" y="{_f(y - 8)}" width="10" height="10" rx="2" fill="{escape(s.colour)}"/>'
            if s.kind != "line"
            else f'<line x1="{_f(x)}" y1="{_f(y - 3)}" x2="{_f(x + 12)}" y2="{_f(y - 3)}" '
            f'stroke="{escape(s.colour)}" stroke-width="2.5"/>'
        )
        parts += [swatch, _text(x + 16, y, s.name, colour=INK)]
        x += 28 + 7.5 * _display_width(s.name)
    return parts


def _display_width(text: str) -> float:
    """Approximate width in units of a Latin character (CJK glyphs count double)."""
    return sum(2.0 if ord(c) > 0x2E80 else 1.0 for c in text)


def _label_every(count: int, plot_width: float, label_chars: int) -> int:
    room = max(plot_width / max(count, 1), 1.0)
    return max(1, math.ceil(label_chars * 6.5 / room))


def time_chart(
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    fmt: Formatter = compact_number,
    width: int = 720,
    height: int = 220,
    y_floor_zero: bool = True,
    empty_text: str = "no data",
) -> str:
    """A chart over evenly spaced periods (months): lines, areas and grouped bars sharing one y axis.

    Args:
        x_labels: one label per period, e.g. "2025-07".
        series: the series to draw; their values align with `x_labels`, None leaves a gap.
        title: accessible title of the chart (the visible caption is the page's).
        fmt: formats y tick labels.
        y_floor_zero: start the y axis at 0 (amounts and counts).
        empty_text: shown when no series has a value.
    """
    left, right, top, bottom = 58.0, 12.0, 26.0, 30.0
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(x_labels)
    values = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    parts = _open(width, height, title)
    parts += _legend(series, left, 14)
    if not values or n == 0:
        parts.append(_text(left + plot_w / 2, top + plot_h / 2, empty_text, anchor="middle"))
        parts.append("</svg>")
        return "".join(parts)
    low = min(0.0, min(values)) if y_floor_zero else min(values)
    high = max(values)
    ticks = nice_ticks(low, high if high > low else low + 1)
    y0, y1 = ticks[0], ticks[-1]

    def y(v: float) -> float:
        return top + plot_h - (v - y0) / (y1 - y0) * plot_h

    slot = plot_w / n

    def x(i: int) -> float:
        return left + slot * (i + 0.5)

    for tick in ticks:
        parts.append(
            f'<line x1="{_f(left)}" y1="{_f(y(tick))}" x2="{_f(left + plot_w)}" y2="{_f(y(tick))}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(left - 6, y(tick) + 4, fmt(tick), anchor="end"))
    every = _label_every(n, plot_w, max(len(label) for label in x_labels))
    for i, label in enumerate(x_labels):
        if (n - 1 - i) % every == 0:  # always label the latest period
            parts.append(_text(x(i), height - 10, label, anchor="middle"))
    parts.append(
        f'<line x1="{_f(left)}" y1="{_f(y(max(y0, 0.0)))}" x2="{_f(left + plot_w)}" y2="{_f(y(max(y0, 0.0)))}" '
        f'stroke="{MUTED}" stroke-width="1"/>'
    )
    bars = [s for s in series if s.kind == "bar"]
    bar_w = slot * 0.7 / max(len(bars), 1)
    for b, s in enumerate(bars):
        for i, v in enumerate(s.values):
            if v is None or not math.isfinite(v):
                continue
            top_y, base_y = sorted((y(v), y(max(y0, 0.0))))
            bx = x(i) - slot * 0.35 + b * bar_w
            parts.append(
                f'<rect x="{_f(bx)}" y="{_f(top_y)}" width="{_f(bar_w)}" height="{_f(max(base_y - top_y, 0.5))}" '
                f'fill="{escape(s.colour)}"><title>{escape(f"{x_labels[i]} {s.name}: {fmt(v)}")}</title></rect>'
            )
    for s in series:
        if s.kind == "bar":
            continue
        for run in _runs(s.values):
            points = " ".join(f"{_f(x(i))},{_f(y(v))}" for i, v in run)
            if s.kind == "area":
                base = _f(y(max(y0, 0.0)))
                area = f"{_f(x(run[0][0]))},{base} {points} {_f(x(run[-1][0]))},{base}"
                parts.append(f'<polygon points="{area}" fill="{escape(s.colour)}" fill-opacity="0.15" stroke="none"/>')
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{escape(s.colour)}" stroke-width="2" '
                f'stroke-linejoin="round" stroke-linecap="round"/>'
            )
            if len(run) == 1:
                i, v = run[0]
                parts.append(f'<circle cx="{_f(x(i))}" cy="{_f(y(v))}" r="2.5" fill="{escape(s.colour)}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Consecutive stretches of present values (a None breaks the line)."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v):
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, float(v)))
    if current:
        runs.append(current)
    return runs


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    fmt: Formatter = compact_number,
    width: int = 720,
    height: int = 220,
    empty_text: str = "no data",
) -> str:
    """Lines (or shaded areas) over evenly spaced periods; see `time_chart`."""
    lines = [Series(s.name, s.values, s.colour, "area" if s.kind == "area" else "line") for s in series]
    return time_chart(x_labels, lines, title=title, fmt=fmt, width=width, height=height, empty_text=empty_text)


def bar_chart(
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    fmt: Formatter = compact_number,
    width: int = 720,
    height: int = 220,
    empty_text: str = "no data",
) -> str:
    """Grouped bars over evenly spaced periods; see `time_chart`."""
    bars = [Series(s.name, s.values, s.colour, "bar") for s in series]
    return time_chart(x_labels, bars, title=title, fmt=fmt, width=width, height=height, empty_text=empty_text)


@dataclass(frozen=True)
class Step:
    """One bar of a waterfall: a label and the signed change it makes."""

    label: str
    value: float


def waterfall(
    base: float,
    steps: Sequence[Step],
    total: float,
    *,
    title: str,
    base_label: str,
    total_label: str,
    width: int = 720,
    row_height: int = 24,
    label_width: int = 250,
    label_chars: int = 34,
    fmt: Callable[[float], str] = lambda v: f"{v:+.2f}",
) -> str:
    """Horizontal waterfall: a base bar, one floating bar per step from the running total, and the total bar.

    Steps that raise the score are red, steps that lower it green; the base and total bars are grey and start at 0.
    The x axis is the model's raw score (log-odds), with 0 marked.
    """
    rows: list[tuple[str, float, float, str]] = [(base_label, 0.0, base, NEUTRAL)]
    running = base
    for step in steps:
        rows.append((step.label, running, running + step.value, RISK_UP if step.value > 0 else RISK_DOWN))
        running += step.value
    rows.append((total_label, 0.0, total, INK))
    top, bottom, right, value_room = 8.0, 26.0, 14.0, 56.0
    height = int(top + bottom + row_height * len(rows))
    left = float(label_width)
    plot_w = width - left - right - value_room
    ends = [v for _, a, b, _ in rows for v in (a, b)]
    ticks = nice_ticks(min(0.0, *ends), max(0.0, *ends), count=5)
    x0, x1 = ticks[0], ticks[-1]

    def x(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * plot_w

    parts = _open(width, height, title)
    axis_y = top + row_height * len(rows)
    for tick in ticks:
        parts.append(f'<line x1="{_f(x(tick))}" y1="{_f(top)}" x2="{_f(x(tick))}" y2="{_f(axis_y)}" stroke="{GRID}"/>')
        parts.append(_text(x(tick), axis_y + 16, f"{tick:g}", anchor="middle"))
    parts.append(f'<line x1="{_f(x(0.0))}" y1="{_f(top)}" x2="{_f(x(0.0))}" y2="{_f(axis_y)}" stroke="{MUTED}"/>')
    previous_end: float | None = None
    for r, (label, start, end, colour) in enumerate(rows):
        row_y = top + r * row_height
        lo, hi = sorted((start, end))
        bar_y = row_y + row_height * 0.2
        bar_h = row_height * 0.6
        bold = r in (0, len(rows) - 1)
        parts.append(
            _text(
                left - 8,
                row_y + row_height * 0.66,
                _clip(label, label_chars),
                anchor="end",
                colour=INK,
                size=11.5 if bold else 11,
            )
        )
        if previous_end is not None and 0 < r < len(rows) - 1:
            parts.append(
                f'<line x1="{_f(x(previous_end))}" y1="{_f(row_y - row_height * 0.2)}" x2="{_f(x(previous_end))}" '
                f'y2="{_f(bar_y)}" stroke="{MUTED}" stroke-dasharray="2,2"/>'
            )
        parts.append(
            f'<rect x="{_f(x(lo))}" y="{_f(bar_y)}" width="{_f(max(x(hi) - x(lo), 1.0))}" height="{_f(bar_h)}" '
            f'rx="1.5" fill="{escape(colour)}"/>'
        )
        shown = end - start if 0 < r < len(rows) - 1 else end
        value_text = fmt(shown) if 0 < r < len(rows) - 1 else f"{shown:.2f}"
        parts.append(_text(x(hi) + 5, row_y + row_height * 0.66, value_text, colour=INK))
        previous_end = end
    parts.append("</svg>")
    return "".join(parts)


def _clip(text: str, width: float) -> str:
    """Shorten a label to about `width` Latin characters (CJK count double), with an ellipsis."""
    if _display_width(text) <= width:
        return text
    out = ""
    for c in text:
        if _display_width(out + c) > width - 1:
            break
        out += c
    return out + "…"


def score_history(
    points: Sequence[tuple[date, float, str]],
    *,
    title: str,
    colours: dict[str, str],
    width: int = 720,
    height: int = 150,
    empty_text: str = "no earlier runs",
) -> str:
    """Probability over past runs, positioned by date, each run's marker coloured by its tier.

    Args:
        points: (run date, probability, tier name) in any order; they are sorted by date.
        colours: tier name -> marker colour (unknown tiers are grey).
    """
    left, right, top, bottom = 46.0, 40.0, 10.0, 26.0
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = _open(width, height, title)
    ordered = sorted(points, key=lambda p: (p[0], p[1]))
    if not ordered:
        parts.append(_text(width / 2, height / 2, empty_text, anchor="middle"))
        parts.append("</svg>")
        return "".join(parts)
    high = max(p[1] for p in ordered)
    y1 = 1.0 if high > 0.5 else nice_ticks(0.0, max(high, 0.05))[-1]
    ticks = nice_ticks(0.0, y1, count=4)
    y1 = ticks[-1]
    first, last = ordered[0][0], ordered[-1][0]
    span = max((last - first).days, 1)

    def x(d: date) -> float:
        if first == last:
            return left + plot_w / 2
        return left + (d - first).days / span * plot_w

    def y(v: float) -> float:
        return top + plot_h - v / y1 * plot_h

    for tick in ticks:
        parts.append(
            f'<line x1="{_f(left)}" y1="{_f(y(tick))}" x2="{_f(left + plot_w)}" y2="{_f(y(tick))}" stroke="{GRID}"/>'
        )
        parts.append(_text(left - 6, y(tick) + 4, f"{tick:.0%}" if y1 >= 0.1 else f"{tick:.1%}", anchor="end"))
    if len(ordered) > 1:
        line = " ".join(f"{_f(x(d))},{_f(y(p))}" for d, p, _ in ordered)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{NEUTRAL}" stroke-width="1.8"/>')
    every = _label_every(len(ordered), plot_w, 10)
    for i, (d, p, tier) in enumerate(ordered):
        colour = colours.get(tier, "#9aa5b1")
        parts.append(
            f'<circle cx="{_f(x(d))}" cy="{_f(y(p))}" r="4" fill="{escape(colour)}" stroke="#ffffff" stroke-width="1">'
            f"<title>{escape(f'{d.isoformat()} {p:.1%} {tier}')}</title></circle>"
        )
        if (len(ordered) - 1 - i) % every == 0:
            parts.append(_text(x(d), height - 8, d.isoformat(), anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)


def blend(colour: str, strength: float, base: str = "#ffffff") -> str:
    """`colour` mixed into `base`: strength 0 gives `base`, 1 gives `colour` (both `#rrggbb`)."""
    t = min(max(strength, 0.0), 1.0)
    a = [int(base[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def _light(colour: str) -> bool:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b > 150


def heatmap(
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    title: str,
    colour: Callable[[float], str],
    fmt: Formatter = lambda v: f"{v:.2f}",
    width: int = 720,
    row_height: int = 22,
    label_width: int = 220,
    label_chars: int = 30,
    show_values: bool = True,
    empty_text: str = "no data",
) -> str:
    """A grid of cells coloured by value (rows × columns, e.g. features × runs, or tier before × tier after).

    Args:
        values: one list per row, aligned with `col_labels`; None draws an empty (grey) cell.
        colour: value -> cell colour (`#rrggbb`); the value's text is dark on light cells and white on dark ones.
        show_values: write each value in its cell (tooltips always carry it).
    """
    top, bottom, right = 8.0, 34.0, 8.0
    height = int(top + bottom + row_height * max(len(row_labels), 1))
    parts = _open(width, height, title)
    if not row_labels or not col_labels:
        parts.append(_text(width / 2, height / 2, empty_text, anchor="middle"))
        parts.append("</svg>")
        return "".join(parts)
    left = float(label_width)
    cell_w = (width - left - right) / len(col_labels)
    for r, label in enumerate(row_labels):
        y = top + r * row_height
        parts.append(_text(left - 6, y + row_height * 0.68, _clip(label, label_chars), anchor="end", colour=INK))
        for c, value in enumerate(values[r]):
            fill = "#f1f3f5" if value is None or not math.isfinite(value) else colour(value)
            shown = "—" if value is None or not math.isfinite(value) else fmt(value)
            x = left + c * cell_w
            parts.append(
                f'<rect x="{_f(x + 0.5)}" y="{_f(y + 0.5)}" width="{_f(cell_w - 1)}" height="{_f(row_height - 1)}" '
                f'fill="{escape(fill)}"><title>{escape(f"{label} · {col_labels[c]}: {shown}")}</title></rect>'
            )
            if show_values and cell_w >= 26:
                ink = INK if _light(fill) else "#ffffff"
                parts.append(_text(x + cell_w / 2, y + row_height * 0.68, shown, anchor="middle", colour=ink, size=10))
    every = _label_every(len(col_labels), width - left - right, max(len(label) for label in col_labels))
    for c, label in enumerate(col_labels):
        if (len(col_labels) - 1 - c) % every == 0:
            parts.append(_text(left + (c + 0.5) * cell_w, height - 14, label, anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)
