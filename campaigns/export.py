"""Campaign contacts as a CSV that opens cleanly in a spreadsheet.

Only a cell a spreadsheet could run as a formula is defused with a leading quote (OWASP
"CSV injection"): one starting with ``=``, ``@``, a tab or a carriage return, or with
``+`` / ``-`` followed by anything but a plain number. So ``+16789998212`` stays the
number it is, while ``+SUM(A1)`` or ``-2+3`` become text.
"""

import csv
import io
import re
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from django.http import StreamingHttpResponse

from campaigns import calling, selectors
from campaigns.models import Campaign, Contact, Disposition

_ALWAYS_FORMULA = ("=", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-][0-9]+(?:[.,][0-9]+)?")

CONTACT_COLUMNS = [
    "first_name",
    "last_name",
    "name",
    "email",
    "company",
    "title",
    "phone",
    "phone_status",
    "mobile",
    "mobile_status",
    "contact_status",
    "account_status",
    "last_outcome",
    "last_outcome_at",
    "callback_at",
    "callback_zone",
    "attempts",
    "call_notes",  # the outcomes' notes; an uploaded "Notes" column keeps its name
]
CHUNK = 2_000


def spreadsheet_safe(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_ALWAYS_FORMULA):
        return "'" + text
    if text.startswith(("+", "-")) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(
    filename: str, header: list[str], rows: Iterable[list[object]], *, bom: bool = False
) -> StreamingHttpResponse:
    """A streamed CSV whose cells a spreadsheet will never run as formulas; ``bom`` for a
    file people open in Excel, which reads UTF-8 as such only with it."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        if bom:
            yield "\ufeff"
        yield writer.writerow([spreadsheet_safe(cell) for cell in header])
        for row in rows:
            yield writer.writerow([spreadsheet_safe(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def original_rows_response(
    filename: str, header_line: str, originals: Iterable[str], *, delimiter: str
) -> StreamingHttpResponse:
    """Rows as they were in an uploaded file, under its header, in its delimiter: a CSV
    to fix and upload again. Each row is read and written again cell by cell, so that a
    cell a spreadsheet would run as a formula is defused here too."""
    writer = csv.writer(_Echo(), delimiter=delimiter)

    def cells(text: str) -> list[str]:
        row = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
        return [spreadsheet_safe(cell) for cell in row]

    def lines() -> Iterator[str]:
        yield "\ufeff"  # Excel opens UTF-8 as such only with the BOM
        yield writer.writerow(cells(header_line.lstrip("\ufeff")))
        for text in originals:
            yield writer.writerow(cells(text))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def contacts_csv(campaign: Campaign) -> StreamingHttpResponse:
    """Every contact, with its first and last name apart and every extra column of its
    rows kept (named as in the file; ``extra:`` in front when it would repeat ours)."""
    extra_keys = selectors.campaign_extra_keys(campaign=campaign)
    taken = set(CONTACT_COLUMNS)
    extra_header = [f"extra:{key}" if key.lower() in taken else key for key in extra_keys]
    contacts = selectors.campaign_contacts(campaign=campaign).iterator(chunk_size=CHUNK)
    return csv_response(
        f"campaign-{campaign.pk}-contacts.csv",
        CONTACT_COLUMNS + extra_header,
        (
            _row(contact, extra_keys, dialling)
            for chunk in _chunks(contacts)
            for contact, dialling in _dialling(campaign, chunk)
        ),
        bom=True,
    )


def _chunks(contacts: Iterator[Contact]) -> Iterator[list[Contact]]:
    chunk: list[Contact] = []
    for contact in contacts:
        chunk.append(contact)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _dialling(campaign: Campaign, chunk: list[Contact]) -> Iterator[tuple[Contact, list[object]]]:
    """Each contact of one chunk with its last outcome, callback in the lead's local time
    (zone named, docs/dialing.md), attempts and notes: two queries a chunk."""
    ids = [c.pk for c in chunk]
    outcomes = selectors.contacts_last_outcomes(campaign=campaign, contact_ids=ids)
    notes: dict[int, list[str]] = {}
    for contact_id, note in (
        Disposition.objects.filter(campaign=campaign, contact_id__in=ids)
        .exclude(note="")
        .order_by("contact_id", "created_at", "id")
        .values_list("contact_id", "note")
    ):
        notes.setdefault(contact_id, []).append(note)
    for contact in chunk:
        last = outcomes.get(contact.pk)
        callback, zone = "", ""
        if last is not None and last.callback_at is not None:
            zone = calling.lead_zone(contact, calling.lead_number(contact))
            callback = f"{last.callback_at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"
        yield (
            contact,
            [
                last.get_outcome_display() if last else "",
                last.created_at.isoformat() if last else "",
                callback,
                zone,
                contact.attempts,
                " | ".join(notes.get(contact.pk, [])),
            ],
        )


def _row(c: Contact, extra_keys: list[str], dialling: list[object]) -> list[object]:
    extra = c.extra if isinstance(c.extra, dict) else {}
    return [
        c.first_name,
        c.last_name,
        c.name,
        c.email,
        c.account.name if c.account else "",
        c.title,
        c.phone.number if c.phone else "",
        c.phone.status if c.phone else "",
        c.mobile.number if c.mobile else "",
        c.mobile.status if c.mobile else "",
        c.status,
        c.account.status if c.account else "",
        *dialling,
        *(extra.get(key, "") for key in extra_keys),
    ]
