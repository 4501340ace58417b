"""The dashboard's token chart as server-rendered SVG: no chart library, no script, and it
works on a LAN with no internet. Every text in it is escaped: user names come from Chat."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from html import escape

COLOURS = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#94a3b8")
TOP = 6  # users drawn in their own colour; the rest share the last one
WIDTH, HEIGHT = 700, 240
LEFT, BOTTOM, TOP_PAD, RIGHT = 64, 34, 14, 28  # room for the first and last labels at twice the size
# The chart is drawn 700 wide and scaled to the page: on a phone to about half, where the
# stylesheet doubles its text. Day labels are spaced so they fit either way: at most WIDE_LABELS
# on a wide screen; the ones marked "minor" are hidden on a phone, leaving at most NARROW_LABELS.
WIDE_LABELS, NARROW_LABELS = 15, 7


def days_back(today: datetime.date, count: int) -> list[str]:
    """The last `count` days as ISO dates, oldest first, ending today."""
    return [(today - datetime.timedelta(days=count - 1 - i)).isoformat() for i in range(count)]


def series(
    usage: Mapping[str, Mapping[str, object]], days: Sequence[str], others: str
) -> list[tuple[str, list[int]]]:
    """Per-user token counts for each day, biggest users first; beyond TOP they are summed
    under `others`. Users are named by their Chat name, or their id when none is known."""
    rows: list[tuple[str, list[int]]] = []
    for person, entry in usage.items():
        per_day = entry.get("days", {})
        assert isinstance(per_day, Mapping)
        counts = [int(per_day.get(day, 0)) for day in days]
        if any(counts):
            name = str(entry.get("username") or "") or person
            rows.append((name, counts))
    rows.sort(key=lambda row: -sum(row[1]))
    if len(rows) > TOP:
        rest = [sum(column) for column in zip(*(counts for _, counts in rows[TOP:]), strict=True)]
        rows = [*rows[:TOP], (others, rest)]
    return rows


def svg(rows: Sequence[tuple[str, Sequence[int]]], days: Sequence[str], title: str) -> str:
    """Stacked bars, one per day, one colour per user, with a tooltip per piece. The legend is
    `legend`'s HTML, so its names wrap and keep the page's size on a phone."""
    totals = [sum(column) for column in zip(*(c for _, c in rows), strict=True)] if rows else [0] * len(days)
    peak = _nice(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - BOTTOM - TOP_PAD
    slot = plot_w / max(1, len(days))
    bar = slot * 0.7
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0, 0.5, 1):  # gridlines and the y axis
        y = TOP_PAD + plot_h * (1 - fraction)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y:.1f}" text-anchor="end" dominant-baseline="central" class="axis">'
            f"{_short(peak * fraction)}</text>"
        )
    for index, day in enumerate(days):
        x = LEFT + slot * index + (slot - bar) / 2
        y = TOP_PAD + plot_h
        for colour, (name, counts) in zip(_colours(len(rows)), rows, strict=True):
            value = counts[index]
            if not value:
                continue
            height = plot_h * value / peak
            y -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="{colour}">'
                f"<title>{escape(day)} · {escape(name)}: {value:,}</title></rect>"
            )
        label = _label_class(len(days) - 1 - index, len(days))
        if label:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" class="{label}">'
                f"{escape(day[5:])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def legend(rows: Sequence[tuple[str, Sequence[int]]]) -> str:
    """Who each colour is, with their total, as HTML to go under the chart."""
    items = []
    for colour, (name, counts) in zip(_colours(len(rows)), rows, strict=True):
        label = name if len(name) <= 24 else name[:23] + "…"
        items.append(
            f'<li><svg width="12" height="12" aria-hidden="true">'
            f'<rect width="12" height="12" fill="{colour}"/></svg>'
            f"{escape(label)} ({_short(sum(counts))})</li>"
        )
    return f'<ul class="chart-legend">{"".join(items)}</ul>'


def _label_class(back: int, count: int) -> str:
    """The class of the label of the day `back` days before today, or "" for none. Labels
    are counted back from today, so today's bar always has one."""
    wide = -(-count // WIDE_LABELS)
    narrow = wide * -(-count // (NARROW_LABELS * wide))  # a multiple: its labels are all drawn
    if back % wide:
        return ""
    return "axis" if back % narrow == 0 else "axis minor"


def _colours(count: int) -> list[str]:
    return [COLOURS[min(i, len(COLOURS) - 1)] for i in range(count)]


def _nice(value: float) -> float:
    """A round number at or above value for the axis: 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 1.0
    while power * 10 <= value:
        power *= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"
