"""Small server-side SVG charts for the customer page: no JavaScript, no CDN, no library.

Every label is escaped (reasons come from outside: a platform's report), and each chart
carries a ``<title>``/``aria-label`` so screen readers and tests can read it.
"""

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 360
BAR_COLOR = "#417690"  # the admin's own blue
LINE_COLOR = "#ba2121"
MUTED = "#666"


def _svg(label: str, height: int, body: str, css_class: str) -> SafeString:
    # Built only from escaped text and numbers formatted here.
    return mark_safe(  # noqa: S308
        f'<svg class="sb-chart {css_class}" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>{body}</svg>'
    )


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 10) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{MUTED}" '
        f'text-anchor="{anchor}">{escape(text)}</text>'
    )


def bar_chart(label: str, points: Sequence[tuple[str, int]], height: int = 140) -> SafeString:
    """Vertical bars, e.g. calls per week; ``points`` are (axis label, value)."""
    top, bottom, left = 14, 20, 4
    plot_h = height - top - bottom
    peak = max((v for _, v in points), default=0) or 1
    slot = (WIDTH - left * 2) / max(1, len(points))
    parts = []
    for i, (name, value) in enumerate(points):
        h = plot_h * value / peak
        x = left + i * slot + slot * 0.15
        y = top + plot_h - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}" fill="{BAR_COLOR}"><title>{escape(name)}: {value}</title></rect>'
        )
        if value:
            parts.append(_text(x + slot * 0.35, y - 2, str(value), "middle", 9))
        if i % 2 == 0 or len(points) <= 6:
            parts.append(_text(x + slot * 0.35, height - 6, name, "middle", 9))
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{WIDTH - left}" y2="{top + plot_h}" '
        f'stroke="#ccc"/>'
    )
    return _svg(label, height, "".join(parts), "sb-bar-chart")


def line_chart(
    label: str, points: Sequence[tuple[str, int]], low: int = 1, high: int = 5, height: int = 140
) -> SafeString:
    """A line over fixed bounds, e.g. satisfaction 1-5 per call, oldest first."""
    top, bottom, left, right = 10, 20, 22, 8
    plot_h = height - top - bottom
    plot_w = WIDTH - left - right
    span = (high - low) or 1
    parts = []
    for level in range(low, high + 1):
        y = top + plot_h - plot_h * (level - low) / span
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="#eee"/>'
        )
        parts.append(_text(left - 6, y + 3, str(level), "end", 9))
    coords = []
    for i, (name, value) in enumerate(points):
        x = left + (plot_w * i / (len(points) - 1) if len(points) > 1 else plot_w / 2)
        y = top + plot_h - plot_h * (min(max(value, low), high) - low) / span
        coords.append((x, y, name, value))
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{LINE_COLOR}" stroke-width="2"/>'
        )
    for x, y, name, value in coords:
        parts.append(
            f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{LINE_COLOR}">'
            f"<title>{escape(name)}: {value}</title></circle>"
        )
    if coords:
        parts.append(_text(left, height - 6, coords[0][2]))
        parts.append(_text(WIDTH - right, height - 6, coords[-1][2], "end"))
    return _svg(label, height, "".join(parts), "sb-line-chart")


def hbar_chart(label: str, points: Sequence[tuple[str, int]]) -> SafeString:
    """Horizontal bars with their labels, e.g. top reasons."""
    row, label_w = 22, 150
    height = max(1, len(points)) * row + 4
    peak = max((v for _, v in points), default=0) or 1
    parts = []
    for i, (name, value) in enumerate(points):
        y = 2 + i * row
        w = (WIDTH - label_w - 30) * value / peak
        short = name if len(name) <= 26 else name[:25] + "…"
        parts.append(_text(label_w - 6, y + 14, short, "end", 11))
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
            f'fill="{BAR_COLOR}"><title>{escape(name)}: {value}</title></rect>'
        )
        parts.append(_text(label_w + w + 4, y + 14, str(value), "start", 10))
    return _svg(label, height, "".join(parts), "sb-hbar-chart")
