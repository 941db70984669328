"""Reading a leads file and merging it into a campaign.

Two phases, so that a failure never leaves a half-imported campaign:

1. **Stage** (``staging``, reading with ``reader``, its rows from ``records``): stream
   the file (memory holds one row at most),
   check its encoding and shape, normalise both number columns with :mod:`crm.phones`
   and write valid rows to the staging table in chunks, each committed with the upload's
   progress. Bad cells and rows go to the receipt.
2. **Merge**: one transaction turns the staged rows into accounts, contacts and Campaign
   Phone Counts by the rules in ``rules``: set-based SQL on PostgreSQL (``postgresql``,
   with the contacts' partitions in ``partitions``), the ORM elsewhere (``portable``).
"""

from typing import IO

import campaigns.ingest.portable as portable
import campaigns.ingest.postgresql as postgresql
import campaigns.ingest.staging as staging
from campaigns.ingest.partitions import contact_partition, lock_campaign
from campaigns.ingest.postgresql import CampaignGone
from campaigns.ingest.reader import MAX_RECORD_CHARS, FileRefused, ReadStats
from campaigns.ingest.rules import MergeResult
from campaigns.ingest.staging import ProgressCallback
from campaigns.models import LeadUpload
from crm.db import is_postgresql

__all__ = [
    "MAX_RECORD_CHARS",
    "CampaignGone",
    "FileRefused",
    "MergeResult",
    "ReadStats",
    "contact_partition",
    "discard_staging",
    "lock_campaign",
    "merge",
    "set_based",
    "stage",
]


def set_based() -> bool:
    """Whether this database takes the set-based path (COPY and SQL). The portable path
    gives the same result on any database; the parity test runs both on PostgreSQL."""
    return is_postgresql()


def stage(upload: LeadUpload, binary: IO[bytes], progress: ProgressCallback = None) -> ReadStats:
    """Write the file's valid rows to the staging table in committed chunks."""
    return staging.stage(upload, binary, progress, copy=set_based())


def merge(upload: LeadUpload) -> MergeResult:
    """Turn the staged rows into accounts, contacts and Campaign Phone Counts (atomic)."""
    if set_based():
        return postgresql.merge(upload)
    return portable.merge(upload)


def discard_staging(upload_id: int) -> None:
    """Drop what an earlier or failed attempt staged for this upload."""
    staging.discard(upload_id, postgresql=is_postgresql())
