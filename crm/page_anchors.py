"""Deep pages of a huge unfiltered list without counting rows from its start.

A changelist page is an ``OFFSET``: page 10,000 of a million customers reads 500,000
index entries before its 50 rows (45-240 ms, docs/benchmarks.md), however the ids are
fetched. Here a list ordered by its primary key keeps *anchors*: the id at every
``STEP``-th position, each read from the one before it (so reading them to a position
costs what one offset to it costs) and cached for ``SECONDS``. A deep page then starts
from the anchor at or before its position and skips fewer than ``STEP`` entries (~3 ms).

The anchors are exact when read. Rows added since (a newer id, in front of a descending
list) are read as an index range (a step's worth reads the anchors again) and the
position moved by that many, so a new customer shifts the pages exactly as an ``OFFSET``
would. Rows merged away or deleted since are not seen until the anchors are read again
(at most ``SECONDS`` later): until then a deep page past them lists the rows it listed
before they left, starting that many rows earlier than a fresh offset would. The total
of such a list is an estimate anyway ("about 1,000,000 customers"); the first pages
(below ``FROM``) are always exact offsets.
"""

import hashlib
import time
from contextlib import suppress
from dataclasses import dataclass, replace

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet
from redis.exceptions import RedisError

from crm.db import is_postgresql

# Pages from this position on use anchors; the first 400 pages of 50 are plain offsets.
FROM = 20_000
# An anchor every STEP rows: a deep page skips fewer than this many index entries.
STEP = 10_000
# How long anchors serve before they are read again.
SECONDS = 60


@dataclass(frozen=True)
class Anchors:
    descending: bool
    read_at: float  # time.time() when the first anchor was read
    ids: tuple[int, ...] = ()  # the id at positions 0, STEP, 2 x STEP, ... as far as read
    complete: bool = False  # the list ends before the next anchor


def _order(rows: QuerySet) -> bool | None:
    """True for descending, False for ascending, None unless ordered by the key alone."""
    order = rows.query.order_by
    pk = rows.model._meta.pk
    if pk is None or len(order) != 1 or not isinstance(order[0], str):
        return None
    name = order[0].lstrip("-")
    if name not in ("pk", pk.name, pk.attname):
        return None
    return order[0].startswith("-")


def _from(rows: QuerySet, start: int, descending: bool) -> QuerySet:
    """``rows`` from the row whose key is ``start`` on, in the list's order."""
    return rows.filter(pk__lte=start) if descending else rows.filter(pk__gte=start)


def _extend(rows: QuerySet, anchors: Anchors, index: int) -> Anchors:
    """Anchors read up to ``index`` (or the list's end), each from the one before it: an
    index-only scan of STEP entries a step, so reading them costs what one plain offset
    to that position costs, once per SECONDS instead of once a page."""
    ids = list(anchors.ids)
    keys = rows.values_list("pk", flat=True)
    if not ids:
        ids = list(keys[:1])
        if not ids:
            return replace(anchors, complete=True)
    while len(ids) <= index:
        step = list(_from(keys, ids[-1], anchors.descending)[STEP : STEP + 1])
        if not step:
            return replace(anchors, ids=tuple(ids), complete=True)
        ids.append(step[0])
    return replace(anchors, ids=tuple(ids))


def anchored_ids(rows: QuerySet, bottom: int, size: int) -> list[int] | None:
    """The ids of ``rows[bottom:bottom + size]`` read from the nearest anchor, or None
    when anchors do not apply (SQLite, not ordered by the key, a position near the start)
    and the caller should use a plain offset."""
    if bottom < FROM or not is_postgresql():
        return None
    descending = _order(rows)
    if descending is None:
        return None
    try:
        sql, params = rows.values_list("pk", flat=True).query.sql_with_params()
    except EmptyResultSet:
        return None  # a list that cannot hold a row
    key = "crm:page-anchors:" + hashlib.sha256(f"{sql}|{params}".encode()).hexdigest()
    now = time.time()
    try:
        anchors: Anchors | None = cache.get(key)
    except (RedisError, OSError):
        return None  # the cache is down: anchors are a shortcut, the offset still answers
    if anchors is None or now - anchors.read_at >= SECONDS:
        anchors = Anchors(descending, read_at=now)
    position = bottom
    if descending and anchors.ids:
        # Rows added since the anchors were read come first: an index range of their ids
        # (no COUNT), read again from scratch when there are a step's worth.
        added = len(rows.filter(pk__gt=anchors.ids[0]).values_list("pk", flat=True)[:STEP])
        if added < STEP:
            position -= added
        else:
            anchors = Anchors(descending, read_at=now)
    index = max(0, position) // STEP
    if index >= len(anchors.ids) and not anchors.complete:
        anchors = _extend(rows, anchors, index)
        # Extended anchors keep the expiry of the first ones.
        with suppress(RedisError, OSError):
            cache.set(key, anchors, max(1, round(anchors.read_at + SECONDS - now)))
    if position < 0 or index >= len(anchors.ids):
        return None  # past the end of the list as read: the plain offset says so exactly
    skip = position - index * STEP
    return list(
        _from(rows, anchors.ids[index], descending).values_list("pk", flat=True)[skip : skip + size]
    )
