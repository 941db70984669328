"""The Phone numbers list's reputation cell and row menu, built in Python.

A page renders these for each of its rows, so they are string formatting, not templates:
a template render per cell costs about a millisecond, and even ``format_html`` spends most
of its time in Django's per-argument lazy-string checks (``bench/reputation.py``: the
cells were a quarter of the page). Every value from outside (labels, carriers, errors,
numbers) goes through :func:`_text`, which escapes exactly as Django's ``escape`` does;
the markup around them is constant.
"""

from functools import lru_cache
from html import escape
from typing import Any

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from crm.formatting import local_datetime
from reputation.models import MonitoredNumber, Verdict
from reputation.selectors import RowReputation
from telephony.models import OwnedNumber

SHIELD = mark_safe(
    '<svg class="sb-shield" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">'
    '<path d="M8 1 2 3.5v4C2 11 4.6 14 8 15c3.4-1 6-4 6-7.5v-4z" fill="currentColor"/></svg>'
)
DASH = "\u2013"
TIP_ROW = '<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>'
TIP = (
    "<table><thead><tr><th>Carrier</th><th>Label</th><th>Score</th><th>Checked at</th>"
    "</tr></thead><tbody>{}</tbody></table><small>{} of {} sources flag it.</small>"
)
CALLS = (
    '<span class="sb-rep-calls{}" title="Outbound calls from this number today{}">{} today</span>'
)
NOT_MONITORED = '<span class="sb-rep sb-rep-none" title="Not monitored">\u2013</span>{}'
RISK = (
    '<span class="sb-rep-risk" title="Answer rate {} over the last 3 days against {} the 14 '
    'days before: carriers may flag it soon">AT RISK</span>'
)
CELL = (
    '<span class="sb-rep sb-rep-{status}" tabindex="0" data-status="{status}">{badge}'
    '<span class="sb-rep-tip" role="tooltip">{tip}</span></span>{risk}{calls}'
)
MENU_BUTTON = (
    '<button type="submit" form="changelist-form" formmethod="post" formaction="{}">{}</button>'
)
MENU = (
    '<details class="sb-row-menu"><summary aria-label="Actions for {}" title="Actions">'
    '\u22ef</summary><div class="sb-row-menu-items">{}</div></details>'
)


def _text(value: Any) -> str:
    """``value`` as escaped text: the output of ``django.utils.html.escape``."""
    return escape(str(value))


def _markup(html: str) -> SafeString:
    """Markup built in this module: constant templates around :func:`_text` values."""
    return mark_safe(html)  # noqa: S308


def badge(monitored: MonitoredNumber) -> SafeString:
    text = "PENDING" if monitored.status == Verdict.PENDING else monitored.get_status_display()
    return _markup(f'{SHIELD}<span class="sb-rep-badge">{_text(text)}</span>')


def _tip(monitored: MonitoredNumber) -> str:
    if not monitored.results:
        error = f": the last check failed ({monitored.last_error})" if monitored.last_error else ""
        return f"Not checked yet{_text(error)}."
    checked = _text(local_datetime(monitored.checked_at) if monitored.checked_at else DASH)
    rows = "".join(
        TIP_ROW.format(
            "flagged" if r.get("flagged") else "clean",
            _text(r.get("carrier", "")),
            _text(r.get("label") or "No label"),
            DASH if r.get("score") is None else _text(r.get("score")),
            checked,
        )
        for r in monitored.results
    )
    return TIP.format(rows, _text(monitored.flagged_sources), _text(monitored.sources))


def reputation_cell(row: RowReputation) -> SafeString:
    monitored = row.monitored
    warn = row.call_warning
    calls = CALLS.format(
        " sb-rep-calls-warn" if warn else "",
        ": above the daily guideline" if warn else "",
        _text(row.calls_today),
    )
    if monitored is None:
        return _markup(NOT_MONITORED.format(calls))
    risk = ""
    if monitored.at_risk:
        risk = RISK.format(
            f"{monitored.answer_rate_recent or 0:.0%}", f"{monitored.answer_rate_before or 0:.0%}"
        )
    return _markup(
        CELL.format(
            status=_text(monitored.status),
            badge=badge(monitored),
            tip=_tip(monitored),
            risk=risk,
            calls=calls,
        )
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
    buttons = "".join(
        MENU_BUTTON.format(_text(row_action_url(number.pk, verb)), label) for verb, label in items
    )
    e164 = row.e164 if row is not None else str(number.number)
    return _markup(MENU.format(_text(e164), buttons))
