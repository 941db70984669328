"""Which column is which: the delimiter and the header, as real exports spell them.

Header names are matched in any case, with spaces, hyphens and underscores alike. Each
field takes the first of its spellings the file has (in the order listed below: a
Business Phone is the phone before a Home Phone is); every other column is kept as extra
data, and the receipt lists how each column was read.
"""

import csv
from dataclasses import dataclass, field

from campaigns.ingest.errors import FileRefused

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
NUMBER_FIELDS = ("phone", "mobile")
# How the receipt says a column was read, beside the field names.
EXTRA = "extra data"
IGNORED = "ignored"
# What a person may map a column to (``--map``, the admin's preview).
IGNORE = "ignore"
CHOICES = (
    ("phone", "Phone"),
    ("mobile", "Mobile"),
    ("email", "Email"),
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("name", "Full name"),
    ("company", "Company"),
    ("title", "Title"),
    ("extra", "Extra data"),
    (IGNORE, "Ignore"),
)
_NAMES = ", ".join(value for value, _ in CHOICES)

# Spellings of each field, best first: ours, then Outlook's, HubSpot's, Salesforce's and
# other common exports'.
FIELD_HEADERS: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name", "firstname", "given_name"),
    "last_name": ("last_name", "lastname", "surname", "family_name"),
    "name": ("name", "full_name", "contact_name"),
    "email": (
        "email",
        "e_mail",
        "email_address",
        "e_mail_address",
        "work_email",
        "business_email",
    ),
    "company": ("company", "company_name", "account_name", "account", "organization"),
    "title": ("title", "job_title", "position", "role"),
    "phone": (
        "phone",
        "business_phone",
        "phone_number",
        "work_phone",
        "office_phone",
        "primary_phone",
        "company_main_phone",
        "telephone",
        "home_phone",
    ),
    "mobile": (
        "mobile",
        "mobile_phone",
        "mobile_phone_number",
        "mobile_number",
        "cell",
        "cell_phone",
        "cellphone",
    ),
}
_SPELLINGS = {
    spelling: (name, rank)
    for name, spellings in FIELD_HEADERS.items()
    for rank, spelling in enumerate(spellings)
}


def header_key(cell: str) -> str:
    return "_".join(cell.strip().lower().replace("-", " ").replace("_", " ").split())


def detect_delimiter(line: str) -> str:
    """The delimiter that splits the header line into the most cells (comma on a tie)."""
    best, cells = ",", 0
    for delimiter in DELIMITERS:
        count = len(next(csv.reader([line], delimiter=delimiter), []))
        if count > cells:
            best, cells = delimiter, count
    return best


@dataclass
class Layout:
    """Where each field sits in a row (a missing one points at a padding cell past the
    row's end), the extra columns with their labels, and how each column was read."""

    width: int
    index: dict[str, int]
    extras: list[tuple[int, str]]
    columns: list[tuple[str, str]] = field(default_factory=list)

    def at(self, name: str) -> int:
        return self.index.get(name, self.width)


def _label(header: str, position: int, taken: set[str]) -> str:
    """A unique name for an extra column, so duplicate headers keep every value."""
    label = header or f"Column {position + 1}"
    unique, n = label, 1
    while unique.lower() in taken:
        n += 1
        unique = f"{label} ({n})"
    taken.add(unique.lower())
    return unique


def mapping_errors(mapping: dict[str, str]) -> list[str]:
    """What is wrong with a mapping of headers to ``CHOICES`` (empty when nothing is)."""
    errors = []
    by_field: dict[str, list[str]] = {}
    for header, target in mapping.items():
        if target not in dict(CHOICES):
            errors.append(f"“{header}”: there is no field “{target}” (choose one of {_NAMES}).")
        elif target in FIELD_HEADERS:
            by_field.setdefault(target, []).append(header)
    for target, headers in by_field.items():
        if len(headers) > 1:
            listed = " and ".join(f"“{h}”" for h in headers)
            errors.append(f"{listed} are all read as {target}: choose one.")
    return errors


def _chosen(cells: list[str], explicit: dict[str, str]) -> dict[str, tuple[int, int]]:
    """field: (rank, position) of the column read as it. A column named in ``explicit``
    is read as said there (rank -1, before any spelling); the others by their spelling."""
    chosen: dict[str, tuple[int, int]] = {}
    for position, cell in enumerate(cells):
        key = header_key(cell)
        if key in explicit:
            target = explicit[key]
            if target in FIELD_HEADERS and target not in chosen:
                chosen[target] = (-1, position)
            continue
        match = _SPELLINGS.get(key)
        if match is None:
            continue
        name, rank = match
        if name in chosen and chosen[name][0] == rank:
            raise FileRefused(f"The column “{cell}” appears twice in the header.")
        if name not in chosen or rank < chosen[name][0]:
            chosen[name] = (rank, position)
    return chosen


def layout(header: list[str], mapping: dict[str, str] | None = None) -> Layout:
    """Where each field is in the rows; ``mapping`` (header: one of ``CHOICES``) says how
    to read the columns it names, the others are read by their header's spelling."""
    cells = [cell.strip() for cell in header]
    explicit = {header_key(h): target for h, target in (mapping or {}).items()}
    index = {name: position for name, (_, position) in _chosen(cells, explicit).items()}
    if not any(name in index for name in NUMBER_FIELDS):
        found = ", ".join(cell for cell in cells if cell)[:200]
        raise FileRefused(f"The file has no “phone” or “mobile” column (the header has: {found}).")
    read_as = {position: name for name, position in index.items()}
    extras: list[tuple[int, str]] = []
    taken: set[str] = set()
    columns = []
    for position, cell in enumerate(cells):
        shown = cell or f"Column {position + 1}"
        if position in read_as:
            columns.append((shown, read_as[position]))
        elif explicit.get(header_key(cell)) == IGNORE:
            columns.append((shown, IGNORED))
        else:
            extras.append((position, _label(cell, position, taken)))
            columns.append((shown, EXTRA))
    return Layout(width=len(cells), index=index, extras=extras, columns=columns)
