"""The next lead on PostgreSQL in one statement (docs/dialing.md, "Next lead").

One round trip does what took eight (a transaction, the caller's lease, a pick per tier,
the contact, the do-not-call list, the lease): the lead this caller already holds,
else the first unheld lead of the open zone keys (callbacks due, then fresh, then
retries due, each key's range a ``LATERAL`` probe ``FOR UPDATE SKIP LOCKED``, so callers
asking together take different rows), its lease written or extended, and the lead read
back with its account, its numbers and whether each is on the do-not-call list. It runs
as its own transaction: the row lock lasts until the lease is written, and a lease
another caller committed meanwhile makes the ``ON CONFLICT`` take nothing (the unique
lease decides, as on SQLite). dialing.lead_next checks what it gets and asks again
(``seen``) for a lead it cannot hand out.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Model

from campaigns.models import Account, CampaignPhone, Contact, Queue
from crm.db import prepared_cursor

_PROBE = """
    SELECT c.id, c.queue_at FROM campaigns_contact c
    LEFT JOIN campaigns_account a ON a.id = c.account_id
    LEFT JOIN campaigns_campaignphone p ON p.id = c.phone_id
    LEFT JOIN campaigns_campaignphone m ON m.id = c.mobile_id
    WHERE c.campaign_id = %(campaign)s AND c.queue = k.queue AND c.dial_zone = k.zone_key
      {due}
      AND c.status = 'active' AND (c.account_id IS NULL OR a.status = 'active')
      AND ((p.status = 'active' AND NOT c.phone_wrong)
           OR (m.status = 'active' AND NOT c.mobile_wrong))
      AND NOT EXISTS (SELECT 1 FROM campaigns_leadlease l
                      WHERE l.contact_id = c.id AND l.expires_at > %(now)s)
      AND c.id <> ALL(%(seen)s::bigint[])
    ORDER BY c.queue_at, c.id LIMIT 1
    FOR UPDATE OF c SKIP LOCKED
"""


def _columns(alias: str, model: type[Model]) -> str:
    return ", ".join(f"{alias}.{f.column}" for f in model._meta.concrete_fields)


# Fresh leads have no due time; retries and callbacks are probed only up to now, so a
# key whose leads are all waiting answers at its first row.
_TEMPLATE = """
WITH held AS (
    SELECT l.contact_id FROM campaigns_leadlease l
    JOIN campaigns_contact hc ON hc.campaign_id = %(campaign)s AND hc.id = l.contact_id
    WHERE l.campaign_id = %(campaign)s AND l.caller_id = %(caller)s AND l.expires_at > %(now)s
    ORDER BY l.expires_at DESC LIMIT 1
),
keys AS (
    SELECT * FROM unnest(%(queues)s::text[], %(keys)s::text[], %(ranks)s::int[])
        AS k(queue, zone_key, rank)
),
pick AS (
    SELECT id FROM (
        SELECT k.rank, f.id, f.queue_at FROM keys k
        CROSS JOIN LATERAL ({fresh_probe}) f WHERE k.queue = '{fresh}'
        UNION ALL
        SELECT k.rank, d.id, d.queue_at FROM keys k
        CROSS JOIN LATERAL ({due_probe}) d
        WHERE k.queue <> '{fresh}'
    ) candidates
    WHERE NOT EXISTS (SELECT 1 FROM held)
    ORDER BY rank, queue_at, id LIMIT 1
),
chosen AS (
    SELECT contact_id AS id, true AS held FROM held
    UNION ALL
    SELECT id, false FROM pick
),
lease AS (
    INSERT INTO campaigns_leadlease (campaign_id, contact_id, caller_id, expires_at)
    SELECT %(campaign)s, id, %(caller)s, %(expires)s FROM chosen
    ON CONFLICT (contact_id) DO UPDATE SET caller_id = excluded.caller_id,
        expires_at = excluded.expires_at, campaign_id = excluded.campaign_id
    WHERE campaigns_leadlease.expires_at <= %(now)s
       OR campaigns_leadlease.caller_id = excluded.caller_id
    RETURNING contact_id
)
SELECT chosen.held, lease.contact_id IS NOT NULL,
    EXISTS (SELECT 1 FROM campaigns_donotcallnumber d WHERE d.number = p.number),
    EXISTS (SELECT 1 FROM campaigns_donotcallnumber d WHERE d.number = m.number),
    {contact}, {account}, {phone}, {mobile}
FROM chosen
JOIN campaigns_contact c ON c.campaign_id = %(campaign)s AND c.id = chosen.id
LEFT JOIN lease ON lease.contact_id = chosen.id
LEFT JOIN campaigns_account a ON a.id = c.account_id
LEFT JOIN campaigns_campaignphone p ON p.id = c.phone_id
LEFT JOIN campaigns_campaignphone m ON m.id = c.mobile_id
"""
_SQL = _TEMPLATE.format(
    fresh=Queue.FRESH.value,
    fresh_probe=_PROBE.format(due=""),
    due_probe=_PROBE.format(due="AND c.queue_at <= %(now)s"),
    contact=_columns("c", Contact),
    account=_columns("a", Account),
    phone=_columns("p", CampaignPhone),
    mobile=_columns("m", CampaignPhone),
)
# Without its indentation: psycopg caches the parsing of a query's placeholders only up
# to 4,096 bytes (MAX_CACHED_STATEMENT_LENGTH), and parsed this statement's 4,126 on
# every ask (docs/profiles/dialing.md). The SQL has no comments or quoted spaces.
_SQL = "\n".join(line.strip() for line in _SQL.splitlines() if line.strip())


@dataclass
class Picked:
    contact: Contact  # its account, phone and mobile loaded
    held: bool  # the caller held it already (asked again)
    leased: bool  # the lease is this caller's now (False: another caller's)
    listed: set[str]  # its numbers on the do-not-call list


def _instance(model: type[Model], values: Sequence[Any]) -> Any:
    fields = model._meta.concrete_fields
    if values[0] is None:  # a LEFT JOIN that found nothing
        return None
    loaded = [
        f.from_db_value(v, None, connection) if v is not None and hasattr(f, "from_db_value") else v
        for f, v in zip(fields, values, strict=True)
    ]
    return model.from_db(connection.alias, [f.attname for f in fields], loaded)


def pick_and_hold(
    *,
    campaign_id: int,
    caller_id: int,
    keys: Sequence[tuple[str, str, int]],
    now: datetime,
    expires: datetime,
    seen: Sequence[int],
) -> Picked | None:
    """The lead ``caller_id`` holds, else the first of ``keys`` ((queue, zone key, rank)
    triples, lowest rank first), leased until ``expires``; None when there is none."""
    # Prepared: planning it took 2-28 ms of CPU for under 0.5 ms of execution
    # (docs/profiles/dialing.md); PostgreSQL keeps one plan per connection.
    with prepared_cursor() as cursor:
        cursor.execute(
            _SQL,
            {
                "campaign": campaign_id,
                "caller": caller_id,
                "now": now,
                "expires": expires,
                "seen": list(seen),
                "queues": [queue for queue, _, _ in keys],
                "keys": [key for _, key, _ in keys],
                "ranks": [rank for _, _, rank in keys],
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    held, leased, phone_listed, mobile_listed = row[:4]
    values = row[4:]
    sizes = [len(m._meta.concrete_fields) for m in (Contact, Account, CampaignPhone)]
    contact = _instance(Contact, values[: sizes[0]])
    rest = values[sizes[0] :]
    account = _instance(Account, rest[: sizes[1]])
    rest = rest[sizes[1] :]
    phone = _instance(CampaignPhone, rest[: sizes[2]])
    mobile = _instance(CampaignPhone, rest[sizes[2] :])
    for name, related in (("account", account), ("phone", phone), ("mobile", mobile)):
        field: Any = Contact._meta.get_field(name)
        field.set_cached_value(contact, related)
    listed = {
        p.number
        for p, on_list in ((phone, phone_listed), (mobile, mobile_listed))
        if p is not None and on_list
    }
    return Picked(contact, held, leased, listed)
