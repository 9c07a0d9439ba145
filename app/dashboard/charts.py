"""Small server-side SVG charts: no script, no CDN, readable on a ward computer.

Every chart carries a title and an aria-label, and each mark carries its value in a `data-value`
attribute and a <title>, so screen readers and tests read the same numbers the page shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

INK, ACCENT, MUTED, GRID = "#1d1d1b", "#005eb8", "#768692", "#d8dde0"  # NHS colour palette


def line_chart(
    title: str,
    points: Sequence[tuple[str, float | None]],
    *,
    unit: str,
    chart_id: str,
    width: int = 560,
    height: int = 220,
) -> str:
    left, right, top, bottom = 44, 12, 28, 36
    values = [v for _, v in points if v is not None]
    top_value = max(values, default=0) or 1
    step = (width - left - right) / max(len(points) - 1, 1)

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - v / top_value)

    parts = [_open(chart_id, title, width, height)]
    for frac in (0, 0.5, 1):
        gy = y(top_value * frac)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{gy:.1f}" y2="{gy:.1f}" '
            f'stroke="{GRID}"/><text x="{left - 6}" y="{gy + 4:.1f}" '
            f'text-anchor="end" font-size="11" fill="{INK}">{_num(top_value * frac)}</text>'
        )
    coords = [(left + i * step, y(v)) for i, (_, v) in enumerate(points) if v is not None]
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in coords)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{ACCENT}" stroke-width="2.5"/>'
        )
    for i, (label, v) in enumerate(points):
        x = left + i * step
        if v is not None:
            parts.append(
                f'<circle class="point" cx="{x:.1f}" cy="{y(v):.1f}" r="3.5" '
                f'fill="{ACCENT}" data-label="{escape(label)}" data-value="{_num(v)}">'
                f"<title>{escape(label)}: {_num(v)} {escape(unit)}</title></circle>"
            )
        if i % max(len(points) // 7, 1) == 0 or i == len(points) - 1:
            parts.append(
                f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" '
                f'font-size="11" fill="{INK}">{escape(label[5:])}</text>'
            )
    return "".join(parts) + "</svg>"


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float, float | None]],
    *,
    unit: str,
    chart_id: str,
    width: int = 560,
    bar_height: int = 22,
) -> str:
    """Horizontal bars; the optional third value draws an expectation marker."""
    label_width, top = 210, 28
    height = top + len(bars) * (bar_height + 8) + 10
    top_value = max([b[1] for b in bars] + [b[2] or 0 for b in bars] + [1])
    scale = (width - label_width - 60) / top_value
    parts = [_open(chart_id, title, width, height)]
    if not bars:
        parts.append(f'<text x="10" y="{top + 16}" font-size="13" fill="{INK}">No data</text>')
    for i, (label, value, expected) in enumerate(bars):
        y = top + i * (bar_height + 8)
        short = label if len(label) <= 32 else label[:31] + "…"
        parts.append(
            f'<text x="{label_width - 8}" y="{y + bar_height * 0.7:.1f}" '
            f'text-anchor="end" font-size="12" fill="{INK}">{escape(short)}</text>'
        )
        parts.append(
            f'<rect class="bar" x="{label_width}" y="{y}" width="{value * scale:.1f}" '
            f'height="{bar_height}" fill="{ACCENT}" data-label="{escape(label)}" '
            f'data-value="{_num(value)}"><title>{escape(label)}: {_num(value)} '
            f"{escape(unit)}</title></rect>"
        )
        parts.append(
            f'<text x="{label_width + value * scale + 6:.1f}" '
            f'y="{y + bar_height * 0.7:.1f}" font-size="12" fill="{INK}">'
            f"{_num(value)}</text>"
        )
        if expected is not None:
            ex = label_width + expected * scale
            parts.append(
                f'<line class="expected" x1="{ex:.1f}" x2="{ex:.1f}" y1="{y - 3}" '
                f'y2="{y + bar_height + 3}" stroke="{INK}" stroke-width="2" '
                f'stroke-dasharray="3 2" data-value="{_num(expected)}"><title>expected '
                f"{_num(expected)} {escape(unit)}</title></line>"
            )
    return "".join(parts) + "</svg>"


def _open(chart_id: str, title: str, width: int, height: int) -> str:
    return (
        f'<svg id="{escape(chart_id)}" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" aria-labelledby="{escape(chart_id)}-title" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="{escape(chart_id)}-title">'
        f"{escape(title)}</title>"
    )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
