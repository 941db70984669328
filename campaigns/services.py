"""Every write to campaigns: lead uploads, disqualifications and their undoing, outcomes."""

import hashlib
import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from campaigns import ingest, selectors, tasks
from campaigns.ingest import headers
from campaigns.ingest.partitions import (
    contact_partition,
    drop_partition,
    lock_campaign,
    partition_exists,
)
from campaigns.ingest.preview import Preview
from campaigns.models import (
    Account,
    Campaign,
    CampaignPhone,
    Contact,
    Disposition,
    DoNotCallNumber,
    LeadUpload,
    Scope,
    Status,
)
from crm.actors import Actor, acting_user
from crm.db import LockNamespace, advisory_try_lock, is_postgresql

logger = logging.getLogger(__name__)

UNDO_PERMISSION = "campaigns.undo_disposition"


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why: a reason is required.")
    return reason[:255]


# --- Lead uploads ---------------------------------------------------------------------------


@transaction.atomic
def lead_upload_create(
    *, campaign: Campaign, file: File, uploaded_by: Actor, mapping: dict[str, str] | None = None
) -> LeadUpload:
    """Store an uploaded leads file; ``lead_upload_import`` (now, or queued by
    ``lead_upload_queue``) imports it, reading the columns ``mapping`` names as it says
    (header: one of ``headers.CHOICES``) and the others by their header."""
    mapping = _clean_mapping(mapping or {})
    digest = hashlib.sha256()
    size = 0
    for chunk in file.chunks():
        digest.update(chunk)
        size += len(chunk)
    if size == 0:
        raise ValidationError("The file is empty.")
    file.seek(0)
    name = (getattr(file, "name", "") or "leads.csv").rsplit("/", 1)[-1][:255]
    upload = LeadUpload(
        campaign=campaign,
        original_name=name,
        size=size,
        checksum=digest.hexdigest(),
        uploaded_by=acting_user(uploaded_by),
        phase=LeadUpload.WAITING_FOR_COLUMNS,
        mapping=mapping,
    )
    upload.file.save(name, file, save=False)
    upload.save()
    return upload


@transaction.atomic
def lead_upload_queue(*, upload: LeadUpload) -> None:
    """Queue a stored upload's import for a worker (after commit, so it finds the row)."""
    upload_id = upload.pk
    queued = LeadUpload.objects.filter(pk=upload_id, status=LeadUpload.State.QUEUED).update(
        phase=LeadUpload.WAITING_FOR_WORKER
    )
    if not queued:
        raise ValidationError("This upload was cancelled or has already run.")
    upload.phase = LeadUpload.WAITING_FOR_WORKER
    transaction.on_commit(lambda: tasks.lead_upload_import.delay(upload_id))


def lead_upload_preview_or_queue(
    *, upload: LeadUpload, mapping: dict[str, str] | None = None
) -> Preview | None:
    """The preview of an upload waiting for its columns (read as ``mapping`` says, else as
    remembered). A file the import will refuse whole has nothing to choose: its import is
    queued at once, so that the receipt gives the import's own reason, and None returned."""
    try:
        return selectors.lead_upload_preview(upload=upload, mapping=mapping)
    except ingest.FileRefused:
        # Cancelled meanwhile: nothing to queue, and its page says so.
        with suppress(ValidationError):
            lead_upload_queue(upload=upload)
        return None


@transaction.atomic
def lead_upload_cancel(*, upload: LeadUpload) -> LeadUpload:
    """Cancel an upload whose import has not started (waiting for its columns, or queued
    for a worker, which then finds it cancelled): nothing of it is imported."""
    upload = LeadUpload.objects.select_for_update().get(pk=upload.pk)
    if upload.status == LeadUpload.State.CANCELLED:
        return upload
    if not upload.cancellable:
        raise ValidationError("This upload's import has already started: it cannot be cancelled.")
    _mark(
        upload,
        status=LeadUpload.State.CANCELLED,
        phase="Cancelled before its import: nothing was imported.",
        finished_at=timezone.now(),
    )
    return upload


def _clean_mapping(mapping: dict[str, str]) -> dict[str, str]:
    mapping = {str(header).strip(): str(target).strip() for header, target in mapping.items()}
    errors = headers.mapping_errors(mapping)
    if errors:
        raise ValidationError(errors)
    return mapping


@transaction.atomic
def lead_upload_start(*, upload: LeadUpload, mapping: dict[str, str]) -> LeadUpload:
    """Import a stored upload with the columns read as a person chose in its preview,
    and remember the choices for the campaign's next upload."""
    mapping = _clean_mapping(mapping)
    if not any(target in headers.NUMBER_FIELDS for target in mapping.values()):
        raise ValidationError("Choose the column that holds the phone or the mobile number.")
    upload = LeadUpload.objects.select_for_update().select_related("campaign").get(pk=upload.pk)
    if upload.status == LeadUpload.State.CANCELLED:
        raise ValidationError("This upload was cancelled: upload the file again.")
    if upload.status != LeadUpload.State.QUEUED or upload.started_at is not None:
        raise ValidationError("This upload's import has already started.")
    upload.mapping = mapping
    upload.save(update_fields=["mapping"])
    campaign = upload.campaign
    remembered = {
        header: target
        for header, target in campaign.column_mapping.items()
        if headers.header_key(header) not in {headers.header_key(h) for h in mapping}
    }
    campaign.column_mapping = {**remembered, **mapping}
    campaign.save(update_fields=["column_mapping"])
    lead_upload_queue(upload=upload)
    return upload


@transaction.atomic
def lead_upload_submit(*, campaign: Campaign, file: File, uploaded_by: Actor) -> LeadUpload:
    """Store an uploaded file and queue its import: an upload from the admin or the API."""
    upload = lead_upload_create(campaign=campaign, file=file, uploaded_by=uploaded_by)
    lead_upload_queue(upload=upload)
    return upload


def _mark(upload: LeadUpload, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(upload, name, value)
    LeadUpload.objects.filter(pk=upload.pk).update(**fields)


def lead_upload_import(
    *, upload_id: int, progress: Callable[[LeadUpload], None] | None = None
) -> LeadUpload:
    """Import an upload: stage the file, then merge it in one transaction.

    Deliberately not one transaction as a whole: staging commits in chunks so the
    progress bar moves, and staged rows are scratch that nobody else reads. The merge,
    which is everything a user sees, is atomic. Safe to call again: a completed or
    refused upload is left alone, an interrupted one starts over.
    """
    upload = LeadUpload.objects.select_related("campaign").get(pk=upload_id)
    if upload.status in LeadUpload.FINISHED:
        return upload
    # Only one worker imports an upload at a time (a re-delivered task finds it taken).
    with advisory_try_lock(LockNamespace.UPLOAD_IMPORT, upload.pk) as acquired:
        if not acquired:
            logger.info("Lead upload %s is being imported by another worker", upload.pk)
            return upload
        # Claimed under the row's lock, so that a cancellation comes before it or not at all.
        claimed = LeadUpload.objects.filter(
            pk=upload.pk, status__in=(LeadUpload.State.QUEUED, LeadUpload.State.RUNNING)
        ).update(status=LeadUpload.State.RUNNING)
        upload.refresh_from_db()
        if not claimed:
            return upload
        earlier = (
            LeadUpload.objects.filter(
                campaign_id=upload.campaign_id,
                checksum=upload.checksum,
                status=LeadUpload.State.COMPLETED,
                duplicate_of__isnull=True,
            )
            .exclude(pk=upload.pk)
            .order_by("pk")
            .first()
        )
        if earlier is not None:
            now = timezone.now()
            _mark(
                upload,
                status=LeadUpload.State.COMPLETED,
                duplicate_of=earlier,
                phase=f"This file was already imported as upload #{earlier.pk}: nothing added.",
                bytes_read=upload.size,
                started_at=now,
                finished_at=now,
            )
            return upload
        ingest.discard_staging(upload.pk)  # an interrupted attempt's rows, if any
        _mark(
            upload,
            status=LeadUpload.State.RUNNING,
            started_at=timezone.now(),
            phase="Reading",
            error="",
        )
        try:
            storage_file = upload.file.storage.open(upload.file.name, "rb")
            with storage_file:
                stats = ingest.stage(upload, storage_file.file, progress)
            _mark(upload, phase=f"Merging {stats.rows_read - stats.rows_rejected:,} rows")
            if progress:
                progress(upload)
            with transaction.atomic():
                result = ingest.merge(upload)
                _mark(
                    upload,
                    status=LeadUpload.State.COMPLETED,
                    phase="Done",
                    bytes_read=upload.size,
                    rows_read=stats.rows_read,
                    rows_rejected=stats.rows_rejected,
                    **asdict(result),  # the receipt's counts, named as on the upload
                    finished_at=timezone.now(),
                )
                # New leads get their zone key, and leads that gained a number get it
                # again (docs/dialing.md, "Next lead"): the next-lead index reads it.
                campaign_id = upload.campaign_id
                transaction.on_commit(lambda: tasks.lead_zones_fill.delay(campaign_id, rekey=True))
        except ingest.CampaignGone:
            logger.info("Lead upload %s: its campaign was deleted meanwhile", upload.pk)
            ingest.discard_staging(upload.pk)
        except ingest.FileRefused as exc:
            ingest.discard_staging(upload.pk)
            _mark(
                upload,
                status=LeadUpload.State.FAILED,
                error=f"{exc} Nothing was imported.",
                phase="Refused",
                # Nothing of the file counts: its rows were read, but none was kept.
                rows_read=0,
                rows_rejected=0,
                finished_at=timezone.now(),
            )
        except Exception:
            logger.exception("Lead upload %s failed", upload.pk)
            ingest.discard_staging(upload.pk)
            _mark(
                upload,
                status=LeadUpload.State.FAILED,
                error="The import failed unexpectedly; nothing was imported. "
                "The error is in the server log.",
                phase="Failed",
                # As for a refused file: nothing of it counts (the progress counted rows).
                rows_read=0,
                rows_rejected=0,
                finished_at=timezone.now(),
            )
            raise
    return upload


@transaction.atomic
def campaign_delete(*, campaign: Campaign) -> dict[str, int]:
    """Delete a campaign with everything in it; returns what was deleted, by kind.

    Django's cascade would first load every contact, number and account into memory
    (millions in a large campaign); these rows go in set-based statements instead, and
    the cascade then deletes what is left (uploads, the log, assignments). Contacts with
    a partition of their own (an upload made it) go with it: dropping a table frees a
    million rows at once, where DELETE wrote each one to the WAL and left them for
    VACUUM. Dropping locks the contacts table until commit, so it comes last.
    """
    deleted: dict[str, int] = {}
    lock_campaign(campaign.pk)  # not while an upload merges into it
    with connection.cursor() as cursor:
        for label, statement in _CAMPAIGN_ROWS:
            cursor.execute(statement, {"campaign": campaign.pk})
            deleted[label] = deleted.get(label, 0) + cursor.rowcount
        if is_postgresql() and partition_exists(cursor, campaign.pk):
            table = sql.Identifier(contact_partition(campaign.pk))
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(table))
            deleted["contacts"] = cursor.fetchone()[0]
            drop_partition(campaign.pk)
        else:
            cursor.execute(
                "DELETE FROM campaigns_contact WHERE campaign_id = %(campaign)s",
                {"campaign": campaign.pk},
            )
            deleted["contacts"] = cursor.rowcount
    campaign.delete()
    return {key: deleted[key] for key in ("log entries", "contacts", "numbers", "accounts")}


# Children before parents: dispositions point at contacts, numbers and accounts. One
# statement per reference, each on its own index (an OR of the three read the whole log).
_CAMPAIGN_ROWS = (
    ("log entries", "DELETE FROM campaigns_disposition WHERE campaign_id = %(campaign)s"),
    (
        "log entries",
        "DELETE FROM campaigns_disposition WHERE phone_id IN "
        "(SELECT id FROM campaigns_campaignphone WHERE campaign_id = %(campaign)s)",
    ),
    (
        "log entries",
        "DELETE FROM campaigns_disposition WHERE account_id IN "
        "(SELECT id FROM campaigns_account WHERE campaign_id = %(campaign)s)",
    ),
    ("numbers", "DELETE FROM campaigns_campaignphone WHERE campaign_id = %(campaign)s"),
    ("accounts", "DELETE FROM campaigns_account WHERE campaign_id = %(campaign)s"),
)


# --- Disqualifying and undoing ------------------------------------------------------------


@transaction.atomic
def campaign_phone_disqualify(
    *, phone: CampaignPhone, by: Actor, reason: str, scope: str = Scope.CAMPAIGN
) -> Disposition:
    """Disqualify a number on every contact carrying it, in either column.

    Contacts reach their numbers through ``CampaignPhone``, so this is one UPDATE of one
    row whatever the campaign's size (two with ``everywhere``: every campaign's row for
    the number, and the do-not-call list future uploads consult).
    """
    reason = _clean_reason(reason)
    if scope not in Scope.values:
        raise ValidationError(f"Unknown scope {scope!r}: use campaign or everywhere.")
    if phone.status == Status.DISQUALIFIED and (
        phone.status_scope == Scope.EVERYWHERE or scope == Scope.CAMPAIGN
    ):
        raise ValidationError(f"{phone.number} is already disqualified.")
    now, actor = timezone.now(), acting_user(by)
    changes = {
        "status": Status.DISQUALIFIED,
        "status_scope": scope,
        "status_reason": reason,
        "status_changed_at": now,
        "status_changed_by": actor,
    }
    if scope == Scope.EVERYWHERE:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO campaigns_donotcallnumber (number, reason, added_by_id, created_at) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (number) DO UPDATE "
                "SET reason = excluded.reason, added_by_id = excluded.added_by_id",
                [phone.number, reason, actor.pk if actor else None, now],
            )
        # Rows disqualified for this campaign alone become do-not-call too: the
        # stronger scope wins, and undoing it later re-activates them all.
        # Probed campaign by campaign on the (campaign, number) unique index.
        CampaignPhone.objects.filter(
            campaign_id__in=Campaign.objects.values("id"), number=phone.number
        ).update(**changes)
    else:
        CampaignPhone.objects.filter(pk=phone.pk).update(**changes)
    for name, value in changes.items():
        setattr(phone, name, value)
    return Disposition.objects.create(
        campaign_id=phone.campaign_id,
        outcome=Disposition.Outcome.DISQUALIFIED,
        target=Disposition.Target.PHONE,
        scope=scope,
        phone=phone,
        number=phone.number,
        note=reason,
        by=actor,
    )


@transaction.atomic
def contact_disqualify(*, contact: Contact, by: Actor, reason: str) -> Disposition:
    return _disqualify(contact, Disposition.Target.CONTACT, by=by, reason=reason)


@transaction.atomic
def account_disqualify(*, account: Account, by: Actor, reason: str) -> Disposition:
    return _disqualify(account, Disposition.Target.ACCOUNT, by=by, reason=reason)


def _disqualify(row: Contact | Account, target: str, *, by: Actor, reason: str) -> Disposition:
    """Disqualify a contact or an account in its campaign, logged as a disposition whose
    ``target`` names the field that points at it."""
    reason = _clean_reason(reason)
    if row.status == Status.DISQUALIFIED:
        raise ValidationError(f"{row} is already disqualified.")
    # With the campaign, PostgreSQL looks in a contact's campaign partition only.
    type(row)._default_manager.filter(campaign_id=row.campaign_id, pk=row.pk).update(
        status=Status.DISQUALIFIED
    )
    row.status = Status.DISQUALIFIED
    return Disposition.objects.create(
        campaign_id=row.campaign_id,
        outcome=Disposition.Outcome.DISQUALIFIED,
        target=target,
        scope=Scope.CAMPAIGN,
        note=reason,
        by=acting_user(by),
        **{target: row},
    )


def _target_id(value: int | None) -> int:
    if value is None:
        raise ValidationError("What this disqualification applied to no longer exists.")
    return value


@transaction.atomic
def disposition_undo(
    *, disposition: Disposition, by: User | AnonymousUser, note: str = ""
) -> Disposition:
    """An Administrator reverses a disqualification; the undoing is logged too."""
    if not by.has_perm(UNDO_PERMISSION):
        raise PermissionDenied("Only an Administrator can undo a disqualification.")
    disposition = Disposition.objects.select_for_update().get(pk=disposition.pk)
    if disposition.outcome != Disposition.Outcome.DISQUALIFIED:
        raise ValidationError("Only a disqualification can be undone.")
    if Disposition.objects.filter(undoes=disposition).exists():
        raise ValidationError("This disqualification was already undone.")
    reactivate = {
        "status": Status.ACTIVE,
        "status_scope": "",
        "status_reason": "",
        "status_changed_at": timezone.now(),
        "status_changed_by": acting_user(by),
    }
    if disposition.target == Disposition.Target.PHONE:
        if disposition.scope == Scope.EVERYWHERE:
            DoNotCallNumber.objects.filter(number=disposition.number).delete()
            CampaignPhone.objects.filter(
                campaign_id__in=Campaign.objects.values("id"),
                number=disposition.number,
                status_scope=Scope.EVERYWHERE,
            ).update(**reactivate)
        else:
            phone = CampaignPhone.objects.get(id=_target_id(disposition.phone_id))
            if phone.status_scope == Scope.EVERYWHERE:
                raise ValidationError(
                    f"{phone.number} is on the do-not-call list: undo that disqualification."
                )
            CampaignPhone.objects.filter(pk=phone.pk).update(**reactivate)
    elif disposition.target == Disposition.Target.CONTACT:
        Contact.objects.filter(
            campaign_id=_target_id(disposition.campaign_id), id=_target_id(disposition.contact_id)
        ).update(status=Status.ACTIVE)
    else:
        Account.objects.filter(id=_target_id(disposition.account_id)).update(status=Status.ACTIVE)
    return Disposition.objects.create(
        campaign_id=disposition.campaign_id,
        outcome=Disposition.Outcome.REQUALIFIED,
        target=disposition.target,
        scope=disposition.scope,
        contact_id=disposition.contact_id,
        account_id=disposition.account_id,
        phone_id=disposition.phone_id,
        number=disposition.number,
        note=(note or "").strip()[:1000],
        by=acting_user(by),
        undoes=disposition,
    )


@transaction.atomic
def disposition_log(
    *,
    contact: Contact,
    by: Actor,
    outcome: str,
    note: str = "",
    number: str = "",
    callback_at: datetime | None = None,
) -> Disposition:
    """A caller records how a call went; "Call back later" says when."""
    if outcome not in Disposition.CALL_OUTCOMES:
        raise ValidationError(f"Unknown outcome {outcome!r}.")
    if outcome == Disposition.Outcome.CALLBACK and callback_at is None:
        raise ValidationError("Choose the date and time to call back.")
    if outcome == Disposition.Outcome.CALLBACK and callback_at and callback_at <= timezone.now():
        raise ValidationError("That callback time is past: choose a time to come.")
    return Disposition.objects.create(
        campaign_id=contact.campaign_id,
        outcome=outcome,
        target=Disposition.Target.CONTACT,
        contact=contact,
        number=number,
        note=(note or "").strip()[:2000],
        callback_at=callback_at if outcome == Disposition.Outcome.CALLBACK else None,
        by=acting_user(by),
    )
