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
EXTRA = "extra data"

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


def layout(header: list[str]) -> Layout:
    cells = [cell.strip() for cell in header]
    chosen: dict[str, tuple[int, int]] = {}  # field: (rank, position)
    for position, cell in enumerate(cells):
        match = _SPELLINGS.get(header_key(cell))
        if match is None:
            continue
        name, rank = match
        if name in chosen and chosen[name][0] == rank:
            raise FileRefused(f"The column “{cell}” appears twice in the header.")
        if name not in chosen or rank < chosen[name][0]:
            chosen[name] = (rank, position)
    index = {name: position for name, (_, position) in chosen.items()}
    if not any(name in index for name in NUMBER_FIELDS):
        found = ", ".join(cell for cell in cells if cell)[:200]
        raise FileRefused(f"The file has no “phone” or “mobile” column (the header has: {found}).")
    read_as = {position: name for name, position in index.items()}
    extras: list[tuple[int, str]] = []
    taken: set[str] = set()
    columns = []
    for position, cell in enumerate(cells):
        if position in read_as:
            columns.append((cell, read_as[position]))
        else:
            extras.append((position, _label(cell, position, taken)))
            columns.append((cell or f"Column {position + 1}", EXTRA))
    return Layout(width=len(cells), index=index, extras=extras, columns=columns)
