"""The 90-day flags chart of a number's page: server-side SVG, no JavaScript, no CDN."""

from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 540, 120
FLAG = "#ba2121"
CLEAN = "#2e7d32"
NONE = "#ddd"


def flags_chart(days: list[tuple[date, int, int]]) -> SafeString:
    """One bar a day: red, as tall as the share of sources flagging; green when none did;
    a grey tick when nothing was checked that day."""
    top, bottom = 8, 20
    plot_h = HEIGHT - top - bottom
    slot = WIDTH / max(1, len(days))
    flagged_days = sum(1 for _, flagged, _ in days if flagged)
    label = f"Carrier flags per day, last {len(days)} days: flagged on {flagged_days} day(s)"
    parts = []
    for i, (day, flagged, checked) in enumerate(days):
        x = i * slot
        tip = f"{day:%b} {day.day}: " + (
            f"{flagged} of {checked} sources flagged" if checked else "not checked"
        )
        if not checked:
            h, color, css = 2.0, NONE, "none"
        elif flagged:
            h, color, css = max(4.0, plot_h * flagged / checked), FLAG, "flagged"
        else:
            h, color, css = 4.0, CLEAN, "clean"
        parts.append(
            f'<rect class="day {css}" x="{x:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{max(1.0, slot - 1):.1f}" height="{h:.1f}" fill="{color}">'
            f"<title>{escape(tip)}</title></rect>"
        )
    if days:
        for index, anchor in ((0, "start"), (len(days) - 1, "end")):
            day = days[index][0]
            x = 0 if anchor == "start" else WIDTH
            parts.append(
                f'<text x="{x}" y="{HEIGHT - 5}" font-size="10" fill="#666" '
                f'text-anchor="{anchor}">{escape(f"{day:%b} {day.day}")}</text>'
            )
    # Built only from escaped text and numbers formatted here.
    return mark_safe(  # noqa: S308
        f'<svg class="sb-chart sb-flags-chart" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}</title>{''.join(parts)}</svg>"
    )
