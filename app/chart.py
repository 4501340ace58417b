"""The dashboard's token chart as server-rendered SVG: no chart library, no script, and it
works on a LAN with no internet. Every text in it is escaped: user names come from Chat."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from html import escape

COLOURS = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#94a3b8")
TOP = 6  # users drawn in their own colour; the rest share the last one
WIDTH, HEIGHT = 700, 240
LEFT, BOTTOM, TOP_PAD, RIGHT = 56, 28, 12, 8


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
    """Stacked bars, one per day, one colour per user, with a legend and a tooltip per piece."""
    totals = [sum(column) for column in zip(*(c for _, c in rows), strict=True)] if rows else [0] * len(days)
    peak = _nice(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - BOTTOM - TOP_PAD
    slot = plot_w / max(1, len(days))
    bar = slot * 0.7
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 22 * ((len(rows) + 3) // 4)}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0, 0.5, 1):  # gridlines and the y axis
        y = TOP_PAD + plot_h * (1 - fraction)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
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
        if index % 2 == len(days) % 2 or len(days) <= 7:  # every other label fits a phone
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle" class="axis">'
                f"{escape(day[5:])}</text>"
            )
    for index, (colour, (name, counts)) in enumerate(zip(_colours(len(rows)), rows, strict=True)):
        x = LEFT + (index % 4) * 160
        y = HEIGHT + 8 + 22 * (index // 4)
        parts.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour}"/>')
        label = name if len(name) <= 16 else name[:15] + "…"
        parts.append(
            f'<text x="{x + 18}" y="{y + 11}" class="legend">{escape(label)} ({_short(sum(counts))})</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


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
