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
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from phonenumbers.tzdata import TIMEZONE_DATA

from campaigns.calling_window import EXTRA_ZONE_KEYS, lead_zones, zone, zone_key
from campaigns.models import (
    Campaign,
    CampaignPhone,
    Contact,
    LeadLease,
    Queue,
    Scope,
    Status,
)
from crm.db import is_postgresql, prepared_cursor

CALLABLE = (Queue.CALLBACK.value, Queue.FRESH.value, Queue.RETRY.value)
FILL_BATCH = 5_000  # leads given their key per transaction by the worker's fill (SQLite)
FILL_CHUNK = 50_000  # ids per UPDATE of the worker's set-based fill (PostgreSQL)

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
        with prepared_cursor() as cursor:
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
        if is_postgresql():
            with transaction.atomic():
                done += _fill_sql(
                    _FIRST_KEYLESS,
                    {"campaign": campaign_id, "queue": queue, "limit": limit - done},
                )
            continue
        with transaction.atomic():
            batch = list(_keyless(campaign_id).filter(queue=queue)[: limit - done])
            _store(campaign_id, {c.pk: zone_key_of(c) for c in batch})
        done += len(batch)
    return done


def lead_zones_fill_all(*, campaign_id: int, rekey: bool = False) -> int:
    """Every lead of the campaign given its key (a worker's task after an upload); with
    ``rekey``, every callable lead's key worked out again and stored where it changed (an
    upload that gave a lead a number it lacked). Answers how many keys were written.

    On PostgreSQL set-based: one UPDATE per ``FILL_CHUNK`` ids, each its own transaction,
    the key worked out in SQL (``_FILL_SQL``); SQLite works lead by lead."""
    if not is_postgresql():
        return _fill_all_portable(campaign_id, rekey)
    with connection.cursor() as cursor:
        cursor.execute(_ID_BOUNDS if rekey else _ID_BOUNDS + " AND dial_zone = ''", [campaign_id])
        low, high = cursor.fetchone()
    total = 0
    if low is None:
        return 0
    target = _ID_RANGE if rekey else _ID_RANGE_KEYLESS
    for start in range(low, high + 1, FILL_CHUNK):
        params = {"campaign": campaign_id, "low": start, "high": start + FILL_CHUNK}
        with transaction.atomic():
            total += _fill_sql(target, params)
    return total


def _fill_all_portable(campaign_id: int, rekey: bool) -> int:
    if not rekey:
        total = 0
        while filled := lead_zones_fill(campaign_id=campaign_id, limit=FILL_BATCH):
            total += filled
        return total
    total, after = 0, 0
    while True:
        with transaction.atomic():
            rows = _leads(campaign_id).filter(queue__in=CALLABLE, pk__gt=after).order_by("id")
            batch = list(rows[:FILL_BATCH])
            if not batch:
                return total
            keys = {c.pk: key for c in batch if (key := zone_key_of(c)) != c.dial_zone}
            _store(campaign_id, keys)
        total += len(keys)
        after = batch[-1].pk


_ID_BOUNDS = (
    "SELECT min(id), max(id) FROM campaigns_contact WHERE campaign_id = %s "
    "AND queue IN ('callback', 'fresh', 'retry')"
)
# The leads a fill gives their key: the first keyless ones of a queue (a request's share,
# rows another filler holds skipped; an array, so the UPDATE probes their ids), or a
# range of ids (the worker's chunks).
_FIRST_KEYLESS = """c.id = ANY(ARRAY(
    SELECT id FROM campaigns_contact
    WHERE campaign_id = %(campaign)s AND queue = %(queue)s AND dial_zone = ''
    ORDER BY queue_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED))"""
_ID_RANGE = """c.id >= %(low)s AND c.id < %(high)s
    AND c.queue IN ('callback', 'fresh', 'retry')"""
_ID_RANGE_KEYLESS = _ID_RANGE + " AND c.dial_zone = ''"
_EXTRA_ZONE = (
    "WHEN jsonb_typeof(c.extra -> '{k}') = 'string' "
    "AND btrim(c.extra ->> '{k}', E' \\t\\n\\r\\f\\x0b') = ANY(%(zones)s) "
    "THEN btrim(c.extra ->> '{k}', E' \\t\\n\\r\\f\\x0b')"
)
# The digits of the lead's first dialable number (else of any number it has).
_DIGITS = """(SELECT substr(CASE WHEN p.status = 'active' AND NOT c.phone_wrong THEN p.number
                     WHEN m.status = 'active' AND NOT c.mobile_wrong THEN m.number
                     ELSE coalesce(p.number, m.number) END, 2)
     FROM (SELECT 1) one
     LEFT JOIN campaigns_campaignphone p ON p.id = c.phone_id
     LEFT JOIN campaigns_campaignphone m ON m.id = c.mobile_id)"""
# zone_key_of in SQL: the contact's own zone, else its upload's time-zone column, else the
# zones of its number by libphonenumber's longest prefix (``zone_prefixes``, up to 9
# digits, the longest first, a probe of the prefix table's key each), else the team's
# zone. Every lookup is a probe per lead of the range the UPDATE walks (``OFFSET 0``: its
# number read once): no plan hinges on the campaign's statistics, which a fresh upload
# has not got yet.
_KEY = """coalesce(
    CASE WHEN c.time_zone = ANY(%(zones)s) THEN c.time_zone {extra} END,
    (SELECT coalesce({prefixes}) FROM (SELECT {digits} AS digits OFFSET 0) d),
    %(default)s)"""
_FILL_SQL = "UPDATE campaigns_contact c SET dial_zone = {key} WHERE c.campaign_id = %(campaign)s "
# The numbers' collation ("C"), or a probe of the key could not use its index.
_PREFIX_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS dial_zone_prefixes "
    '(prefix text COLLATE "C" PRIMARY KEY, zone_key text NOT NULL) ON COMMIT DELETE ROWS'
)
_PREFIX_PROBE = "(SELECT zone_key FROM dial_zone_prefixes WHERE prefix = left(d.digits, {n}))"
_PREFIX_ROWS = (
    "INSERT INTO dial_zone_prefixes SELECT * FROM unnest(%s::text[], %s::text[]) "
    "ON CONFLICT DO NOTHING"
)


def _fill_text(target: str) -> str:
    key = _KEY.format(
        extra=" ".join(_EXTRA_ZONE.format(k=k) for k in EXTRA_ZONE_KEYS),
        digits=_DIGITS,
        prefixes=", ".join(_PREFIX_PROBE.format(n=n) for n in range(9, 0, -1)),
    )
    # Keyless leads all change; a re-key writes only the leads whose key did.
    changed = f"AND c.dial_zone <> {key}" if target == _ID_RANGE else ""
    return _FILL_SQL.format(key=key) + f"AND {target} {changed}"


_FILL_TEXT = {t: _fill_text(t) for t in (_FIRST_KEYLESS, _ID_RANGE, _ID_RANGE_KEYLESS)}


@lru_cache(maxsize=1)
def zone_prefixes() -> tuple[list[str], list[str]]:
    """libphonenumber's number prefixes (country code and digits) and the key each gives,
    as calling_window.number_zones reads them: zones unknown here left out, none left
    the team's zone. Stored numbers are valid (crm.phones.normalize), so the prefix alone
    decides; a non-geographic number whose country-level zones differ from its prefix's
    would get its key corrected when it is picked (dialing.lead_next checks each lead)."""
    prefixes, keys = [], []
    for prefix, names in TIMEZONE_DATA.items():
        found = tuple(n for n in names if zone(n) is not None) or (settings.TIME_ZONE,)
        prefixes.append(prefix)
        keys.append(zone_key(found))
    return prefixes, keys


@lru_cache(maxsize=1)
def _known_zones() -> list[str]:
    return sorted(name for name in available_timezones() if zone(name) is not None)


def _fill_sql(target: str, params: dict[str, Any]) -> int:
    """One fill statement, in the caller's transaction (the prefix table lives in it)."""
    prefixes, keys = zone_prefixes()
    with connection.cursor() as cursor:
        # Compiling this statement took seconds of JIT for a few hundred ms of work.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(_PREFIX_TABLE)
        cursor.execute(_PREFIX_ROWS, [prefixes, keys])
        cursor.execute("ANALYZE dial_zone_prefixes")  # probed by its key, not scanned
        cursor.execute(
            _FILL_TEXT[target],
            {
                **params,
                "zones": _known_zones(),
                "default": zone_key((settings.TIME_ZONE,)),
            },
        )
        return cursor.rowcount


def _keyless(campaign_id: int) -> QuerySet[Contact]:
    return _leads(campaign_id).filter(dial_zone="").order_by("queue_at", "id")


def _leads(campaign_id: int) -> QuerySet[Contact]:
    return (
        Contact.objects.filter(campaign_id=campaign_id)
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
    )


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
