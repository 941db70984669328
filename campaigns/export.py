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

from django.http import StreamingHttpResponse

from campaigns import selectors
from campaigns.models import Campaign, Contact

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
]


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
    filename: str, header: list[str], rows: Iterable[list[object]]
) -> StreamingHttpResponse:
    """A streamed CSV whose cells a spreadsheet will never run as formulas."""
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
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
    contacts = selectors.campaign_contacts(campaign=campaign).iterator(chunk_size=2_000)
    return csv_response(
        f"campaign-{campaign.pk}-contacts.csv",
        CONTACT_COLUMNS + extra_header,
        (_row(contact, extra_keys) for contact in contacts),
    )


def _row(c: Contact, extra_keys: list[str]) -> list[object]:
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
        *(extra.get(key, "") for key in extra_keys),
    ]
