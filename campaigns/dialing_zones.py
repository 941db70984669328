"""Leads by zone key (docs/dialing.md, "Next lead"): which leads may be called now, read
from the queue index instead of checked one by one.

Every lead stores its zones as one key (``Contact.dial_zone``, '' until worked out). A
campaign holds few distinct keys (a few dozen at most), read by a loose scan of the index
(campaign, queue, dial_zone, queue_at, id): one probe per key. The keys open now are
worked out in Python (calling_window.window_state), and the next lead is the first row
of those keys' ranges, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL: as many index probes as
open keys, however many sleeping leads come first.
"""

from collections.abc import Sequence
from datetime import datetime

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q

from campaigns.calling_window import lead_zones, zone_key
from campaigns.models import (
    Campaign,
    CampaignPhone,
    Contact,
    LeadLease,
    Queue,
    Scope,
    Status,
)
from crm.db import is_postgresql

CALLABLE = (Queue.CALLBACK.value, Queue.FRESH.value, Queue.RETRY.value)
FILL_BATCH = 5_000  # leads given their key per statement by the worker's fill

_QUEUE_KEYS_SQL = """
WITH RECURSIVE pairs(queue, dial_zone) AS (
    (SELECT queue, dial_zone FROM campaigns_contact WHERE campaign_id = %(campaign)s
     ORDER BY queue, dial_zone LIMIT 1)
    UNION ALL
    SELECT next.queue, next.dial_zone FROM pairs, LATERAL (
        SELECT c.queue, c.dial_zone FROM campaigns_contact c
        WHERE c.campaign_id = %(campaign)s
          AND (c.queue, c.dial_zone) > (pairs.queue, pairs.dial_zone)
        ORDER BY c.queue, c.dial_zone LIMIT 1
    ) next
)
SELECT queue, dial_zone FROM pairs
"""

# A number is callable for the lead when active and not wrong for it. The do-not-call
# list is checked on the lead picked (dialing.lead_next): inside this OR, PostgreSQL
# either hashes the whole list for each pick or, joined, misjudges the rows left and
# sorts the campaign. A number listed after its campaign rows were written (they are
# disqualified when it is listed) is healed there, once (dnc_heal).
_NUMBER_OK = "({p}.status = 'active' AND NOT c.{col}_wrong)"
_PICK_SQL = """
SELECT pick.id FROM unnest(%(keys)s::text[]) AS k(zone_key)
CROSS JOIN LATERAL (
    SELECT c.id, c.queue_at FROM campaigns_contact c
    LEFT JOIN campaigns_account a ON a.id = c.account_id
    LEFT JOIN campaigns_campaignphone p ON p.id = c.phone_id
    LEFT JOIN campaigns_campaignphone m ON m.id = c.mobile_id
    WHERE c.campaign_id = %(campaign)s AND c.queue = %(queue)s AND c.dial_zone = k.zone_key
      {due}
      AND c.status = 'active' AND (c.account_id IS NULL OR a.status = 'active')
      AND ({phone_ok} OR {mobile_ok})
      AND NOT EXISTS (SELECT 1 FROM campaigns_leadlease l
                      WHERE l.contact_id = c.id AND l.expires_at > %(now)s)
      AND c.id <> ALL(%(seen)s::bigint[])
    ORDER BY c.queue_at, c.id LIMIT 1
    FOR UPDATE OF c SKIP LOCKED
) pick
ORDER BY pick.queue_at, pick.id LIMIT 1
"""
_PICK = {
    due: _PICK_SQL.format(
        due="AND c.queue_at <= %(now)s" if due else "",
        phone_ok=_NUMBER_OK.format(p="p", col="phone"),
        mobile_ok=_NUMBER_OK.format(p="m", col="mobile"),
    )
    for due in (True, False)
}


def zone_key_of(contact: Contact) -> str:
    """The key of the zones the lead is called in: its own zone, else its first dialable
    number's (as calling.lead_window reads it)."""
    phones = contact.dialable_phones or [p for p in (contact.phone, contact.mobile) if p]
    number = phones[0].number if phones else ""
    return zone_key(lead_zones(contact_zone=contact.time_zone, extra=contact.extra, number=number))


def queue_keys(campaign_id: int) -> list[tuple[str, str]]:
    """The campaign's distinct (queue, zone key) pairs."""
    if is_postgresql():
        with connection.cursor() as cursor:
            cursor.execute(_QUEUE_KEYS_SQL, {"campaign": campaign_id})
            return [(queue, key) for queue, key in cursor.fetchall()]
    return list(
        Contact.objects.filter(campaign_id=campaign_id)
        .order_by()
        .values_list("queue", "dial_zone")
        .distinct()
    )


def _store(campaign_id: int, keys: dict[int, str]) -> None:
    by_key: dict[str, list[int]] = {}
    for pk, key in keys.items():
        by_key.setdefault(key, []).append(pk)
    for key, pks in by_key.items():
        Contact.objects.filter(campaign_id=campaign_id, pk__in=pks).update(dial_zone=key)


def key_store(contact: Contact) -> None:
    key = zone_key_of(contact)
    if key != contact.dial_zone:
        _store(contact.campaign_id, {contact.pk: key})
        contact.dial_zone = key


def lead_zones_fill(*, campaign_id: int, limit: int) -> int:
    """Give up to ``limit`` leads without a key theirs, callbacks first, then fresh, then
    retries, each in queue order; answers how many. Rows another filler holds are skipped
    (SKIP LOCKED), never waited for."""
    done = 0
    for queue in CALLABLE:
        if done >= limit:
            break
        with transaction.atomic():
            rows = (
                Contact.objects.filter(campaign_id=campaign_id, queue=queue, dial_zone="")
                .select_related("phone", "mobile")
                .only(
                    "id",
                    "campaign_id",
                    "time_zone",
                    "extra",
                    "phone_wrong",
                    "mobile_wrong",
                    "dial_zone",
                    "phone",
                    "mobile",
                    "phone__number",
                    "phone__status",
                    "mobile__number",
                    "mobile__status",
                )
                .order_by("queue_at", "id")
            )
            if is_postgresql():
                rows = rows.select_for_update(skip_locked=True, of=("self",))
            batch = list(rows[: limit - done])
            _store(campaign_id, {c.pk: zone_key_of(c) for c in batch})
        done += len(batch)
    return done


def lead_zones_fill_all(*, campaign_id: int) -> int:
    """Every lead of the campaign given its key (a worker's task after an upload)."""
    total = 0
    while filled := lead_zones_fill(campaign_id=campaign_id, limit=FILL_BATCH):
        total += filled
    return total


def fill_later(campaign_id: int) -> None:
    """Queue the fill of the campaign's remaining keys, once per few minutes at most."""
    from campaigns import tasks

    if cache.add(f"campaigns:lead-zones-fill:{campaign_id}", 1, timeout=300):
        transaction.on_commit(lambda: tasks.lead_zones_fill.delay(campaign_id))


def dnc_heal(campaign: Campaign, numbers: set[str]) -> None:
    """The campaign's rows of numbers found on the do-not-call list, disqualified
    everywhere as listing them does, so the pick never reads their leads again."""
    CampaignPhone.objects.filter(campaign=campaign, number__in=sorted(numbers)).exclude(
        status=Status.DISQUALIFIED
    ).update(
        status=Status.DISQUALIFIED,
        status_scope=Scope.EVERYWHERE,
        status_reason="On the do-not-call list",
    )


def pick(
    campaign: Campaign, queue: str, keys: Sequence[str], now: datetime, seen: list[int]
) -> Contact | None:
    """The first lead of ``queue`` (due by ``now``) among ``keys``, unheld, with a number
    to call: locked for this transaction on PostgreSQL, so callers asking together each
    take another."""
    due = queue != Queue.FRESH
    if is_postgresql():
        with connection.cursor() as cursor:
            cursor.execute(
                _PICK[due],
                {
                    "keys": list(keys),
                    "campaign": campaign.pk,
                    "queue": queue,
                    "now": now,
                    "seen": seen,
                },
            )
            row = cursor.fetchone()
        if row is None:
            return None
        return (
            Contact.objects.select_related("account", "phone", "mobile")
            .filter(campaign_id=campaign.pk, pk=row[0])
            .first()
        )
    # SQLite: the request's IMMEDIATE transaction already excludes every other writer.
    # The do-not-call list is checked on the lead picked, as on PostgreSQL.
    rows = Contact.objects.filter(
        campaign=campaign, queue=queue, dial_zone__in=list(keys), status=Status.ACTIVE
    ).filter(Q(account__isnull=True) | Q(account__status=Status.ACTIVE))
    if due:
        rows = rows.filter(queue_at__lte=now)
    rows = rows.filter(
        Q(phone__status=Status.ACTIVE, phone_wrong=False)
        | Q(mobile__status=Status.ACTIVE, mobile_wrong=False)
    ).exclude(Exists(LeadLease.objects.filter(contact_id=OuterRef("pk"), expires_at__gt=now)))
    if seen:
        rows = rows.exclude(pk__in=seen)
    return rows.select_related("account", "phone", "mobile").order_by("queue_at", "id").first()
