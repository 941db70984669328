"""Pages of a campaign's contacts in the caller workspace, at any size (docs/pages.md).

The unfiltered list is paged by key: a page is the 50 contacts after (or before) an id,
one range of the campaign's primary key index however deep, where ``OFFSET`` read and
dropped every contact before the page. ``?page=N`` still works: the first pages by
``OFFSET`` (cheap there, and exact), a deeper one by jumping to about where it starts
(contacts of an upload hold consecutive ids), then keyset from there. The total is the
planner's estimate of the campaign's partition past ``EXACT_COUNT_BELOW`` contacts,
never a count of a million rows.

A search answers at most ``SEARCH_MATCH_CAP`` ids (campaigns/search.py), paged in memory
with exact numbers; only the page's 50 contacts are then read.
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Max, Min, QuerySet

from campaigns.models import Campaign, Contact
from crm import admin_utils

PER_PAGE = 50
# ``?page=N`` up to here is an OFFSET over at most this many pages of the id index.
OFFSET_PAGES = 20


@dataclass
class ContactCount:
    """What the template and tests read as ``page.paginator``."""

    count: int
    is_estimate: bool = False
    is_capped: bool = False
    per_page: int = PER_PAGE
    bounds: tuple[int, int] | None = None  # the campaign's lowest and highest id, once read

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.per_page))


@dataclass
class ContactPage:
    object_list: list[Contact]
    paginator: ContactCount
    # The page's number when known exactly; else where it about starts (1-based).
    number: int | None
    first_position: int | None = None
    about: bool = False
    previous_query: str | None = None
    next_query: str | None = None
    first_query: str | None = None
    last_query: str | None = None
    search: str = ""

    @property
    def has_previous(self) -> bool:
        return self.previous_query is not None

    @property
    def has_next(self) -> bool:
        return self.next_query is not None

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def is_first(self) -> bool:
        return not self.has_previous

    @property
    def last_position(self) -> int | None:
        if self.first_position is None:
            return None
        return self.first_position + len(self.object_list) - 1


def _int(value: object) -> int | None:
    """A page number or an id from the query string; anything else is no value."""
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    # Past any id or page there is, without overflowing PostgreSQL's bigint.
    return max(-(2**62), min(number, 2**62))


def _query(search: str, **params: int | str) -> str:
    return urlencode({**({"q": search} if search else {}), **params})


def _related(rows: QuerySet[Contact]) -> QuerySet[Contact]:
    return rows.select_related("account", "phone", "mobile")


def campaign_count(campaign: Campaign, table: str | None) -> ContactCount:
    """The campaign's contacts: its partition's estimate when large, else counted."""
    if table:
        estimate = admin_utils.estimated_row_count(table)
        if estimate is not None and estimate >= admin_utils.EXACT_COUNT_BELOW:
            return ContactCount(estimate, is_estimate=True)
    # Only a small campaign gets here (or one not yet analysed: counted up to the cap).
    cap = admin_utils.EXACT_COUNT_BELOW
    counted = Contact.objects.filter(campaign=campaign).order_by()[:cap].count()
    return ContactCount(counted, is_estimate=counted >= cap)


def list_page(*, campaign: Campaign, params: dict[str, str], table: str | None) -> ContactPage:
    """The unfiltered list: ``after``/``before`` an id, ``last``, or ``page``."""
    contacts = Contact.objects.filter(campaign=campaign)
    total = campaign_count(campaign, table)
    after, before = _int(params.get("after")), _int(params.get("before"))
    number = _int(params.get("page")) or 1
    if after is None and before is None and "last" not in params:
        if number <= OFFSET_PAGES or total.count <= OFFSET_PAGES * PER_PAGE:
            number = max(1, min(number, total.num_pages))
            start = (number - 1) * PER_PAGE
            rows = list(_related(contacts.order_by("id"))[start : start + PER_PAGE + 1])
            if not rows and number > 1:  # fewer contacts than the count said
                return list_page(campaign=campaign, params={"last": "1"}, table=table)
            return _finish(rows, total, number=number, start=start, offset_page=True)
        after = _jump(contacts, total, number)
    if after is not None:
        rows = list(_related(contacts.filter(id__gt=after).order_by("id"))[: PER_PAGE + 1])
        if not rows:  # past the end: the last page
            return list_page(campaign=campaign, params={"last": "1"}, table=table)
        page = _finish(rows, total, start=None)
        page.number = number if "page" in params else None
        page.about = True
        page.first_position = _position(contacts, total, rows[0].pk)
        if page.previous_query is None and contacts.filter(id__lt=rows[0].pk).exists():
            page.previous_query = _query("", before=rows[0].pk)
        return page
    bound = {"id__lt": before} if before is not None else {}
    rows = list(_related(contacts.filter(**bound).order_by("-id"))[: PER_PAGE + 1])
    if not rows:  # before the start: the first page
        return list_page(campaign=campaign, params={}, table=table)
    has_previous = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE][::-1]
    page = _finish(rows, total, start=None)
    page.previous_query = _query("", before=rows[0].pk) if has_previous else None
    page.next_query = (
        _query("", after=rows[-1].pk) if contacts.filter(id__gt=rows[-1].pk).exists() else None
    )
    if not has_previous:
        page.number, page.first_position = 1, 1
    else:
        page.about = True
        page.first_position = _position(contacts, total, rows[0].pk)
        if page.next_query is None:
            page.number = total.num_pages
            page.first_position = max(1, total.count - len(rows) + 1)
    return page


def _finish(
    rows: list[Contact],
    total: ContactCount,
    *,
    start: int | None,
    number: int | None = None,
    offset_page: bool = False,
) -> ContactPage:
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    page = ContactPage(rows, total, number=number)
    if start is not None:
        page.first_position = start + 1
    if rows and more:
        page.next_query = _query("", after=rows[-1].pk)
    if offset_page and number and number > 1:
        page.previous_query = _query("", page=number - 1)
    page.first_query = _query("")
    page.last_query = _query("", last=1)
    return page


def _jump(contacts: QuerySet[Contact], total: ContactCount, number: int) -> int:
    """The id just before about where page ``number`` starts: contacts are spread over
    their id range as the count says (an upload's contacts take consecutive ids)."""
    low, high = _bounds(contacts, total)
    spread = (high - low + 1) / max(1, total.count)
    return low - 1 + int((number - 1) * PER_PAGE * spread)


def _bounds(contacts: QuerySet[Contact], total: ContactCount) -> tuple[int, int]:
    if total.bounds is None:
        found = contacts.aggregate(low=Min("id"), high=Max("id"))
        total.bounds = (found["low"] or 0, found["high"] or 0)
    return total.bounds


def _position(contacts: QuerySet[Contact], total: ContactCount, pk: int) -> int:
    """About where the contact ``pk`` stands (1-based): counted in a small campaign,
    interpolated over the id range in a large one."""
    if not total.is_estimate:
        return contacts.filter(id__lt=pk).count() + 1
    low, high = _bounds(contacts, total)
    low, high = low or pk, high or pk
    share = (pk - low) / max(1, high - low)
    return max(1, min(total.count, 1 + int(share * total.count)))


def search_page(
    *, campaign: Campaign, ids: list[int], capped: bool, params: dict[str, str], search: str
) -> ContactPage:
    """One page of a search's ids (at most the cap, in id order), numbered exactly."""
    total = ContactCount(len(ids), is_capped=capped)
    number = max(1, min(_int(params.get("page")) or 1, total.num_pages))
    start = (number - 1) * PER_PAGE
    chosen = ids[start : start + PER_PAGE]
    by_id = {c.pk: c for c in _related(Contact.objects.filter(campaign=campaign, id__in=chosen))}
    page = ContactPage([by_id[i] for i in chosen if i in by_id], total, number=number)
    page.first_position = start + 1
    page.search = search
    if number > 1:
        page.previous_query = _query(search, page=number - 1)
    if start + PER_PAGE < len(ids):
        page.next_query = _query(search, page=number + 1)
    page.first_query = _query(search)
    page.last_query = _query(search, page=total.num_pages)
    return page
