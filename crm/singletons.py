"""Settings pages backed by one database row: Telephony, Orchestration, Reputation, ...

Administrators change these in the admin while webhooks and workers read them on every
request, so each process keeps the row for a few seconds instead of querying each time.
A concrete model subclasses :class:`SingletonSettings`, declares its fields, and adds
:func:`singleton_constraint` to its ``Meta.constraints``; its ModelAdmin mixes in
``crm.admin_utils.SingletonAdminMixin`` so the changelist opens the one row.
"""

import time
from typing import Any, Self

from django.db import models
from django.db.models import Q

# A change made in the admin reaches every process within this many seconds; the process
# that saved it sees it at once.
SETTINGS_CACHE_SECONDS = 5.0

# {model label: (monotonic time loaded, row)}
_cache: dict[str, tuple[float, Any]] = {}


def singleton_constraint(name: str) -> models.CheckConstraint:
    """The database's guarantee that there is only ever the one row (pk 1)."""
    return models.CheckConstraint(condition=Q(pk=1), name=name)


def clear_cache() -> None:
    """Forget every cached row in this process (tests; a settings change elsewhere)."""
    _cache.clear()


class SingletonSettings(models.Model):
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.pk = 1
        super().save(*args, **kwargs)
        _cache.pop(self._meta.label, None)

    @classmethod
    def load(cls) -> Self:
        """The row, read now (made with its defaults the first time)."""
        obj, _ = cls._default_manager.get_or_create(pk=1)
        return obj

    @classmethod
    def cached(cls) -> Self:
        """``load()`` for hot paths (webhooks, every lookup): at most every few seconds."""
        now = time.monotonic()
        entry = _cache.get(cls._meta.label)
        if entry is None or now - entry[0] > SETTINGS_CACHE_SECONDS:
            entry = (now, cls.load())
            _cache[cls._meta.label] = entry
        return entry[1]
