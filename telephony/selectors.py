"""Reads of calls and messages: the customer page's timeline and analytics, lists, the API.

Every read here costs a fixed number of queries whatever the history's length: the
timeline is a LIMITed UNION over two per-customer indexes, analytics are SQL aggregates.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import (
    CharField,
    Count,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, TruncWeek
from django.utils import timezone

from crm.formatting import local_datetime
from crm.models import Customer, Note, NoteEdit, PhoneNumber
from crm.phones import InvalidPhoneNumber, display_number, normalize
from crm.selectors import customer_queryset
from telephony.answering import local_day_start, zone_or_default
from telephony.models import (
    MISSED_STATUSES,
    Call,
    Conversation,
    Direction,
    Message,
    OwnedNumber,
    TelephonySettings,
)
from telephony.parties import party_identify

# Not answered, or sent to voicemail (the answer, an unanswered forward or a recording).
MISSED = Q(status__in=MISSED_STATUSES) | Q(voicemail=True) | ~Q(recording_url="")

TIMELINE_PAGE_SIZE = 20
# Pages whose rows lie within this many of each kind's newest are read whole per kind.
TIMELINE_DIRECT_ROWS = 201
WEEKS_SHOWN = 12
SATISFACTION_POINTS = 20
TOP_REASONS = 5
# Top reasons count this many of the latest calls: bounded work whatever the history.
REASONS_WINDOW = 1000


def call_detail(call_id: int) -> Call:
    return Call.objects.select_related("assistant").get(pk=call_id)


def customer_calls(*, customer_id: int) -> QuerySet[Call]:
    return Call.objects.filter(customer_id=customer_id).select_related("assistant")


def calls_filtered(
    *,
    customer: int | None = None,
    caller: str | None = None,
    direction: str | None = None,
    channel: str | None = None,
    status: str | None = None,
    assistant: str | None = None,
    reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Call]:
    calls = Call.objects.select_related("assistant")
    exact = {
        "customer_id": customer,
        "from_number": caller,
        "direction": direction,
        "channel": channel,
        "status": status,
        "assistant__name": assistant,
        "reason": reason,
        "started_at__gte": since,
        "started_at__lt": until,
    }
    return calls.filter(**{name: value for name, value in exact.items() if value is not None})


def call_list() -> QuerySet[Call]:
    return Call.objects.select_related("customer", "assistant")


def message_list() -> QuerySet[Message]:
    return Message.objects.select_related("customer", "sent_by")


def owned_numbers_for_admin() -> QuerySet[OwnedNumber]:
    """The Phone numbers list, each row with ``e164``: the number as its column holds it
    (E.164), so cells show it without a PhoneNumber validity check each."""
    return OwnedNumber.objects.annotate(e164=Cast("number", CharField()))


def recent_reasons(limit: int = 30, window: int = 10_000) -> list[str]:
    """Reasons seen in the latest calls: filter choices without a DISTINCT over all calls."""
    latest = Call.objects.order_by("-id").values("id")[:window]
    rows = (
        Call.objects.filter(id__in=latest)
        .exclude(reason="")
        .values("reason")
        .annotate(n=Count("id"))
        .order_by("-n", "reason")[:limit]
    )
    return [row["reason"] for row in rows]


def frequent_callers() -> QuerySet[Customer]:
    """Live profiles that reached us more than once, most interactions first (indexed)."""
    return (
        customer_queryset()
        .filter(interaction_count__gte=2)
        .order_by("-interaction_count", "-last_interaction_at", "-id")
    )


@dataclass(frozen=True)
class TimelineEntry:
    kind: str  # "call", "sms" or "note"
    at: datetime
    item: Call | Message | Note


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    number: int
    has_next: bool
    has_previous: bool
    total_pages: int


def customer_timeline(*, customer: Customer, page: int = 1) -> TimelinePage:
    """Calls, messages and notes, newest first, one page, in a fixed number of queries
    whatever the history (docs/pages.md, "Customer page").

    The first pages read each kind's newest rows whole (one LIMITed range of its
    (customer, time) index each: three queries, whatever the page holds) and merge them
    here. Deeper pages first pick the page's (kind, id) pairs with one UNION ALL ordered
    and LIMITed in SQL, then fetch those rows, so paging far back never loads every row
    it skips. The total comes from the customer's counter and an indexed count of notes.
    """
    page = max(1, page)
    offset = (page - 1) * TIMELINE_PAGE_SIZE
    need = offset + TIMELINE_PAGE_SIZE + 1
    calls = Call.objects.filter(customer=customer).select_related("assistant", "handled_by")
    messages = Message.objects.filter(customer=customer).select_related("sent_by")
    notes = (
        Note.objects.filter(customer=customer)
        .select_related("author", "call_link")
        .annotate(edited=Exists(NoteEdit.objects.filter(note=OuterRef("pk"))))
    )
    if need <= TIMELINE_DIRECT_ROWS:
        rows: list[tuple[str, datetime, int, Call | Message | Note]] = [
            *(("call", c.started_at, c.pk, c) for c in calls.order_by("-started_at", "-id")[:need]),
            *(("sms", m.sent_at, m.pk, m) for m in messages.order_by("-sent_at", "-id")[:need]),
            *(("note", n.created_at, n.pk, n) for n in notes.order_by("-created_at", "-id")[:need]),
        ]
        rows.sort(key=lambda row: (row[1], row[2]), reverse=True)
        found = rows[offset:need]
        has_next = len(found) > TIMELINE_PAGE_SIZE
        entries = [TimelineEntry(kind, at, item) for kind, at, _, item in found]
    else:
        keys = _timeline_keys(customer, offset, need)
        has_next = len(keys) > TIMELINE_PAGE_SIZE
        entries = _timeline_rows(keys, calls, messages, notes)
    entries = entries[:TIMELINE_PAGE_SIZE]
    notes_total = Note.objects.filter(customer=customer).count()  # indexed by customer
    total = max(customer.interaction_count + notes_total, offset + len(entries))
    return TimelinePage(
        entries=entries,
        number=page,
        has_next=has_next,
        has_previous=page > 1,
        total_pages=max(1, -(-total // TIMELINE_PAGE_SIZE)),
    )


def _timeline_keys(customer: Customer, offset: int, need: int) -> list[tuple[str, int, datetime]]:
    """A deep page's (kind, id, time), newest first, and one more when there is one."""
    # Each side is cut to the rows this page could need, so each is a LIMITed range
    # of its (customer, time) index and the outer sort sees at most that many a side
    # (SQLite cannot LIMIT inside a UNION; its small embedded databases do without).
    calls = (
        Call.objects.filter(customer=customer)
        .annotate(kind=Value("call", output_field=CharField()), at=F("started_at"))
        .order_by("-started_at", "-id")
        .values_list("kind", "id", "at")
    )
    messages = (
        Message.objects.filter(customer=customer)
        .annotate(kind=Value("sms", output_field=CharField()), at=F("sent_at"))
        .order_by("-sent_at", "-id")
        .values_list("kind", "id", "at")
    )
    notes = (
        Note.objects.filter(customer=customer)
        .annotate(kind=Value("note", output_field=CharField()), at=F("created_at"))
        .order_by("-created_at", "-id")
        .values_list("kind", "id", "at")
    )
    if connection.features.supports_slicing_ordering_in_compound:
        calls, messages, notes = calls[:need], messages[:need], notes[:need]
    else:
        calls, messages, notes = calls.order_by(), messages.order_by(), notes.order_by()
    return list(calls.union(messages, notes, all=True).order_by("-at", "-id")[offset:need])


def _timeline_rows(
    keys: list[tuple[str, int, datetime]],
    calls: QuerySet[Call],
    messages: QuerySet[Message],
    notes: QuerySet[Note],
) -> list[TimelineEntry]:
    keys = keys[:TIMELINE_PAGE_SIZE]
    by_key: dict[tuple[str, int], Call | Message | Note] = {}
    for kind, rows in (("call", calls), ("sms", messages), ("note", notes)):
        ids = [pk for k, pk, _ in keys if k == kind]
        if ids:
            by_key.update(((kind, row.pk), row) for row in rows.filter(id__in=ids))
    return [
        TimelineEntry(kind, at, by_key[(kind, pk)]) for kind, pk, at in keys if (kind, pk) in by_key
    ]


@dataclass(frozen=True)
class CallAnalytics:
    calls: int
    messages: int
    first_contact: datetime | None
    last_contact: datetime | None
    average_duration: float | None
    average_satisfaction: float | None
    weeks: list[tuple[datetime, int]]  # (week start, calls), oldest first, zeros included
    satisfaction_trend: list[tuple[datetime, int]]  # (call time, score), oldest first
    top_reasons: list[tuple[str, int]]
    # Set when top reasons count only the latest calls (a longer history than this).
    reasons_window: int | None = None


def customer_call_analytics(*, customer: Customer, now: datetime | None = None) -> CallAnalytics:
    """The profile's analytics panel: four queries, each bounded but the first.

    The totals are one index-only pass over the customer's calls (the covering timeline
    index, integer sums: no numeric AVG); weeks are a range of the last 12 weeks, the
    trend a LIMIT; top reasons count the latest ``REASONS_WINDOW`` calls, so a long
    history costs the page no GROUP BY over all of it (docs/pages.md).
    """
    now = now or timezone.now()
    calls = Call.objects.filter(customer=customer)
    totals = calls.aggregate(
        n=Count("id"),
        first=Min("started_at"),
        last=Max("started_at"),
        duration_sum=Sum("duration_seconds"),
        duration_n=Count("duration_seconds"),
        satisfaction_sum=Sum("satisfaction"),
        satisfaction_n=Count("satisfaction"),
    )
    this_week = _week_start(now)
    since = this_week - timedelta(weeks=WEEKS_SHOWN - 1)
    per_week = {
        _week_start(row["week"]): row["n"]
        for row in calls.filter(started_at__gte=since)
        .annotate(week=TruncWeek("started_at"))
        .values("week")
        .annotate(n=Count("id"))
        .order_by()
    }
    weeks = [
        (week, per_week.get(week, 0))
        for week in (since + timedelta(weeks=i) for i in range(WEEKS_SHOWN))
    ]
    rated = list(
        calls.filter(satisfaction__isnull=False)
        .order_by("-started_at", "-id")
        .values_list("started_at", "satisfaction")[:SATISFACTION_POINTS]
    )
    rated.reverse()
    latest = calls.order_by("-started_at", "-id").values("id")[:REASONS_WINDOW]
    reasons = list(
        Call.objects.filter(id__in=latest)
        .exclude(reason="")
        .values("reason")
        .annotate(n=Count("id"))
        .order_by("-n", "reason")
        .values_list("reason", "n")[:TOP_REASONS]
    )
    # Messages have no analytics of their own; the first/last contact covers both.
    messages = customer.interaction_count - totals["n"]
    return CallAnalytics(
        calls=totals["n"],
        messages=max(0, messages),
        first_contact=customer.first_interaction_at or totals["first"],
        last_contact=customer.last_interaction_at or totals["last"],
        average_duration=_mean(totals["duration_sum"], totals["duration_n"]),
        average_satisfaction=_mean(totals["satisfaction_sum"], totals["satisfaction_n"]),
        weeks=weeks,
        satisfaction_trend=[(at, int(score or 0)) for at, score in rated],
        top_reasons=[(reason, int(n)) for reason, n in reasons],
        reasons_window=REASONS_WINDOW if totals["n"] > REASONS_WINDOW else None,
    )


def _mean(total: int | None, n: int) -> float | None:
    return total / n if n and total is not None else None


def _week_start(moment: datetime) -> datetime:
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    monday = local - timedelta(days=local.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class DayActivity:
    calls: int
    messages: int
    missed: int
    recent_missed: list[Call]


def day_activity(*, now: datetime | None = None, recent: int = 5) -> DayActivity:
    """Today's calls, messages and missed inbound calls (the team's day), for the admin home.

    Each count is a range over the ``started_at`` / ``sent_at`` index: a few queries
    whatever the history's size.
    """
    # "Today" is the team's day (docs/voice.md), whoever reads the page and wherever.
    start = team_day_start(now)
    calls = Call.objects.filter(started_at__gte=start)
    missed = calls.filter(MISSED, direction=Direction.INBOUND)
    return DayActivity(
        calls=calls.count(),
        messages=Message.objects.filter(sent_at__gte=start).count(),
        missed=missed.count(),
        recent_missed=list(missed.select_related("customer").order_by("-started_at")[:recent]),
    )


def missed_calls() -> QuerySet[Call]:
    """Inbound calls to work through: not answered, or sent to voicemail, and not handled."""
    return Call.objects.filter(MISSED, direction=Direction.INBOUND, handled_at__isnull=True)


def team_zone() -> ZoneInfo:
    """The team's time zone (Telephony settings; the server's ``TIME_ZONE`` by default)."""
    return zone_or_default(TelephonySettings.cached().team_time_zone)


def team_day_start(now: datetime | None = None) -> datetime:
    """Midnight of the team's today, as an aware moment."""
    return local_day_start(team_zone(), now)


def team_today(now: datetime | None = None) -> date:
    """The team's calendar date: the day daily limits, daily checks and "today" count in."""
    return team_day_start(now).date()


def call_notes(call: Call) -> QuerySet[Note]:
    """A call's notes, newest first."""
    return (
        Note.objects.filter(call_link__call=call)
        .select_related("author")
        .order_by("-created_at", "-id")
    )


# --- SMS replies and the inbox (docs/messaging.md) ----------------------------------------


@dataclass(frozen=True)
class SmsRoute:
    """Where a reply to a customer would go, and from which of our numbers; ``refusal``
    says why it cannot go (then the other fields may be empty)."""

    to_e164: str = ""
    from_e164: str = ""
    refusal: str = ""
    choices: tuple[str, ...] = ()  # the customer's numbers that take texts


def sms_route(
    *, customer: Customer, to: str | None = None, phones: list[PhoneNumber] | None = None
) -> SmsRoute:
    """The number a reply goes to (``to``, else the customer's Mobile + SMS number) and
    the one it goes from (the number the customer last wrote to, else Telephony settings'
    ``sms_from``). ``phones``: the customer's numbers when the caller holds them already
    (the profile page reads them once for all its panels)."""
    if phones is None:
        phones = list(
            customer.phone_numbers.filter(type="mobile").order_by("-sms", "-updated_at", "-id")
        )
    else:
        phones = sorted(
            (p for p in phones if p.type == "mobile"),
            key=lambda p: (not p.sms, -p.updated_at.timestamp(), -p.pk),
        )
    choices = tuple(str(p.number) for p in phones)
    if to:
        try:
            wanted = normalize(to)
        except InvalidPhoneNumber as exc:
            return SmsRoute(refusal=str(exc), choices=choices)
        phone = next((p for p in phones if str(p.number) == wanted), None)
        if phone is None:
            return SmsRoute(
                refusal=f"{display_number(wanted)} is not one of this customer's Mobile "
                "numbers: only a Mobile number takes texts.",
                choices=choices,
            )
    elif phones:
        phone = phones[0]
    else:
        return SmsRoute(
            refusal="This customer holds no SMS-capable number: only a Mobile number takes texts.",
        )
    e164 = str(phone.number)
    if phone.sms_opted_out:
        when = phone.sms_opted_out_at
        since = f" on {local_datetime(when)}" if when else ""
        return SmsRoute(
            to_e164=e164,
            refusal=f"{display_number(e164)} opted out of SMS{since} (texted STOP): nothing "
            "can be sent to it until it texts START.",
            choices=choices,
        )
    last_to = (
        Message.objects.filter(customer=customer, direction="inbound")
        .order_by("-sent_at", "-id")
        .values_list("to_number", flat=True)
        .first()
    )
    ours = party_identify(last_to).e164 if last_to else None
    from_e164 = ours or TelephonySettings.cached().sms_from
    if not from_e164:
        return SmsRoute(
            to_e164=e164,
            refusal="No number to send from: this customer has never texted us and "
            "Telephony settings has no SMS from-number.",
            choices=choices,
        )
    return SmsRoute(to_e164=e164, from_e164=from_e164, choices=choices)


def inbox(
    *, user_id: int | None = None, assigned: str | None = None, status: str | None = None
) -> QuerySet[Conversation]:
    """Conversations of live profiles, newest first. By default those awaiting a reply
    (open, last message the customer's); ``status`` ``open``/``resolved`` lists those
    instead, answered or not. ``assigned``: ``me`` (``user_id``'s) or ``none``."""
    conversations = Conversation.objects.filter(customer__merged_into__isnull=True)
    if status in Conversation.Status.values:
        conversations = conversations.filter(status=status)
    else:
        conversations = conversations.filter(status=Conversation.Status.OPEN, awaiting_reply=True)
    if assigned == "me":
        conversations = conversations.filter(assigned_to_id=user_id)
    elif assigned == "none":
        conversations = conversations.filter(assigned_to__isnull=True)
    return conversations.select_related("customer", "assigned_to").order_by(
        "-last_message_at", "-id"
    )


def inbox_for_admin() -> QuerySet[Conversation]:
    """Every live profile's conversation with its last message's text (``last_body``)."""
    last = Message.objects.filter(customer=OuterRef("customer_id")).order_by("-sent_at", "-id")
    return (
        Conversation.objects.filter(customer__merged_into__isnull=True)
        .annotate(last_body=Subquery(last.values("body")[:1]))
        .order_by("-last_message_at", "-id")
    )


def inbox_agents() -> QuerySet:
    """Who may be given a conversation: active staff allowed to answer it."""
    permission = Q(codename="send_message", content_type__app_label="telephony")
    allowed = Permission.objects.filter(permission)
    return (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(is_superuser=True)
            | Q(groups__permissions__in=allowed)
            | Q(user_permissions__in=allowed)
        )
        .distinct()
        .order_by("username")
    )
