"""The Phone numbers list's reputation cell and row menu, built in Python.

A page renders these for each of its rows: string building costs microseconds where a
template render per cell costs about a millisecond (``bench/reputation.py``). Every value
from outside (labels, carriers, errors) goes through ``format_html``'s escaping.
"""

from functools import lru_cache

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from reputation.models import MonitoredNumber, Verdict
from reputation.selectors import RowReputation
from telephony.models import OwnedNumber

SHIELD = mark_safe(
    '<svg class="sb-shield" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">'
    '<path d="M8 1 2 3.5v4C2 11 4.6 14 8 15c3.4-1 6-4 6-7.5v-4z" fill="currentColor"/></svg>'
)


def badge(monitored: MonitoredNumber) -> SafeString:
    text = "PENDING" if monitored.status == Verdict.PENDING else monitored.get_status_display()
    return format_html('{}<span class="sb-rep-badge">{}</span>', SHIELD, text)


def _tip(monitored: MonitoredNumber) -> SafeString:
    if not monitored.results:
        error = f": the last check failed ({monitored.last_error})" if monitored.last_error else ""
        return format_html("Not checked yet{}.", error)
    checked = f"{monitored.checked_at:%Y-%m-%d %H:%M}" if monitored.checked_at else "\u2013"
    rows = format_html_join(
        "",
        '<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
        (
            (
                "flagged" if r.get("flagged") else "clean",
                r.get("carrier", ""),
                r.get("label") or "No label",
                "\u2013" if r.get("score") is None else r.get("score"),
                checked,
            )
            for r in monitored.results
        ),
    )
    return format_html(
        "<table><thead><tr><th>Carrier</th><th>Label</th><th>Score</th><th>Checked at</th>"
        "</tr></thead><tbody>{}</tbody></table><small>{} of {} sources flag it.</small>",
        rows,
        monitored.flagged_sources,
        monitored.sources,
    )


def reputation_cell(row: RowReputation) -> SafeString:
    monitored = row.monitored
    calls = format_html(
        '<span class="sb-rep-calls{}" title="Outbound calls from this number today{}">'
        "{} today</span>",
        " sb-rep-calls-warn" if row.call_warning else "",
        ": above the daily guideline" if row.call_warning else "",
        row.calls_today,
    )
    if monitored is None:
        return format_html(
            '<span class="sb-rep sb-rep-none" title="Not monitored">\u2013</span>{}', calls
        )
    risk = ""
    if monitored.at_risk:
        risk = format_html(
            '<span class="sb-rep-risk" title="Answer rate {} over the last 3 days against '
            '{} the 14 days before: carriers may flag it soon">AT RISK</span>',
            f"{monitored.answer_rate_recent or 0:.0%}",
            f"{monitored.answer_rate_before or 0:.0%}",
        )
    return format_html(
        '<span class="sb-rep sb-rep-{}" tabindex="0" data-status="{}">{}'
        '<span class="sb-rep-tip" role="tooltip">{}</span></span>{}{}',
        monitored.status,
        monitored.status,
        badge(monitored),
        _tip(monitored),
        risk,
        calls,
    )


@lru_cache(maxsize=1)
def _url_pattern() -> str:
    return reverse("admin:reputation_row_action", args=[0, "VERB"]).replace("/0/", "/{pk}/")


def row_action_url(pk: int, verb: str) -> str:
    return _url_pattern().replace("{pk}", str(pk)).replace("VERB", verb)


def row_menu(number: OwnedNumber, row: RowReputation | None) -> SafeString:
    active = number.status == OwnedNumber.Status.ACTIVE
    items = []
    if row is not None and row.monitored is not None:
        items.append(("unmonitor", "Stop monitoring"))
    elif active:
        items.append(("monitor", "Monitor reputation"))
    if active:
        items.append(("replace", "Replace number"))
    buttons = format_html_join(
        "",
        '<button type="submit" form="changelist-form" formmethod="post" formaction="{}">{}'
        "</button>",
        ((row_action_url(number.pk, verb), label) for verb, label in items),
    )
    return format_html(
        '<details class="sb-row-menu"><summary aria-label="Actions for {}" title="Actions">'
        '\u22ef</summary><div class="sb-row-menu-items">{}</div></details>',
        number.number,
        buttons,
    )
