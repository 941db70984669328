"""Campaigns: who callers phone (accounts, contacts), from which numbers, and what they said.

The shape follows the rule (docs/product.md, "Campaigns") that disqualifying a number
reaches every contact that carries it in one statement, whatever the campaign's size: a
number is a row of its campaign (``CampaignPhone``) and contacts point at it, so a
number's status is stored once and every contact reads it through the join.
"""

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

# References written or deleted by the million. PostgreSQL checks a foreign key with a
# per-row trigger (~20-40 µs a row, deferred to COMMIT): longer than a whole import, or
# a campaign's deletion. They are correct by construction (the merge takes every id from
# a join in its transaction; deletes go through Django's on_delete or delete the log
# first), so only they skip the database check (db_constraint=False); indexes stay.


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    DISQUALIFIED = "disqualified", "Disqualified"


class Queue(models.TextChoices):
    FRESH = "fresh", "Not called yet"
    RETRY = "retry", "To call again"
    CALLBACK = "callback", "Call back"
    DONE = "done", "Done"


class Scope(models.TextChoices):
    CAMPAIGN = "campaign", "This campaign"
    EVERYWHERE = "everywhere", "Do not call, everywhere"


class Campaign(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    callers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="assigned_campaigns",
        help_text="Callers who work this campaign in the caller workspace.",
    )
    caller_ids = models.ManyToManyField(
        "telephony.OwnedNumber",
        blank=True,
        related_name="campaigns",
        verbose_name="caller IDs",
        help_text="Our numbers this campaign dials from. A replaced number dials from its "
        "replacement.",
    )
    column_mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text="How its last upload's columns were read (header: field), for the next.",
    )
    # The calling window, in each lead's local time (docs/dialing.md, "Calling window").
    call_window_start = models.TimeField(
        default=time(8, 0),
        db_default=time(8, 0),
        help_text="No call starts before this time in the lead's local time (8:00 by default).",
    )
    call_window_end = models.TimeField(
        default=time(21, 0),
        db_default=time(21, 0),
        help_text="No call starts after this time in the lead's local time (21:00 by default). "
        "Telemarketing rules forbid calls before 8:00 or after 21:00.",
    )
    default_caller_id = models.ForeignKey(
        "telephony.OwnedNumber",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="default caller ID",
        help_text="Dialled from when no number of ours shares the lead's area code or state.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        permissions = [
            ("work_campaign", "Can work assigned campaigns in the caller workspace"),
            ("export_campaign", "Can export a campaign's contacts"),
            ("undo_disposition", "Can undo a disqualification"),
        ]

    def __str__(self) -> str:
        return self.name


class Account(models.Model):
    """A company within a campaign; rows name it by the ``company`` column."""

    # Indexed by the unique (campaign, lower(name)) constraint, which leads with it.
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="accounts",
        db_constraint=False,
        db_index=False,
    )
    name = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                F("campaign"),
                Lower("name"),
                name="campaigns_account_name_unique",
                violation_error_message="This campaign already has an account of that name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CampaignPhone(models.Model):
    """Campaign Phone Counts: one row per distinct number across both columns of a campaign."""

    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="phones",
        db_constraint=False,
        db_index=False,
    )
    number = models.CharField(max_length=16, help_text="E.164")
    contact_count = models.PositiveIntegerField(
        default=0, help_text="Distinct contacts carrying this number, in either column."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_scope = models.CharField(
        max_length=16,
        choices=Scope.choices,
        blank=True,
        help_text="Why it is disqualified: in this campaign, or do-not-call everywhere.",
    )
    status_reason = models.CharField(max_length=255, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Indexed only where set (see Meta): an upload writes a million rows without it.
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-contact_count", "number"]
        verbose_name = "campaign phone"
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "number"], name="campaigns_campaignphone_number_unique"
            ),
        ]
        indexes = [
            models.Index(F("campaign"), F("contact_count").desc(), name="campaigns_phone_counts"),
            # For SET_NULL when a user is deleted.
            models.Index(
                fields=["status_changed_by"],
                condition=Q(status_changed_by__isnull=False),
                name="campaigns_phone_changed_by",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class LeadUpload(models.Model):
    """One uploaded leads file: its progress while it runs and its receipt after."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Refused"
        CANCELLED = "cancelled", "Cancelled"

    # The phase of a stored upload until its import is queued: the admin's column check.
    WAITING_FOR_COLUMNS = "Waiting for columns"
    WAITING_FOR_WORKER = "Waiting for a worker"
    FINISHED = (State.COMPLETED, State.FAILED, State.CANCELLED)

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="uploads")
    file = models.FileField(upload_to="lead_uploads/%Y/%m/")
    original_name = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(default=0)
    checksum = models.CharField(max_length=64, blank=True, db_index=True, help_text="SHA-256")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    # Sized for the longest message: "already imported as upload #<19 digits>" and kin.
    phase = models.CharField(max_length=200, blank=True)
    bytes_read = models.BigIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Why the file was refused.")
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # How the file was read (the receipt explains its choices).
    encoding = models.CharField(max_length=32, blank=True, help_text="As the file was read.")
    encoding_note = models.CharField(max_length=200, blank=True)
    delimiter = models.CharField(max_length=8, blank=True)
    columns = models.JSONField(
        default=list, blank=True, help_text="Each column's header and how it was read."
    )
    mapping = models.JSONField(
        default=dict, blank=True, help_text="Header: field, as chosen (the others detected)."
    )
    header_line = models.TextField(
        blank=True, help_text="The header as in the file (the rejected rows' CSV starts with it)."
    )
    # The receipt.
    rows_read = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    contacts_created = models.PositiveIntegerField(default=0)
    merged_by_email = models.PositiveIntegerField(default=0)
    duplicate_rows = models.PositiveIntegerField(
        default=0, help_text="Rows without email identical to a contact already there."
    )
    accounts_created = models.PositiveIntegerField(default=0)
    numbers_found = models.PositiveIntegerField(default=0)
    numbers_created = models.PositiveIntegerField(default=0)
    numbers_do_not_call = models.PositiveIntegerField(
        default=0, help_text="Numbers that arrived disqualified: on the do-not-call list."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.original_name or 'upload'} #{self.pk}"

    @property
    def percent(self) -> int:
        if self.status == self.State.COMPLETED:
            return 100
        if not self.size:
            return 0
        # Reading the file is most of the work; the last stretch is the merge.
        return min(95, int(95 * self.bytes_read / self.size))

    @property
    def cancellable(self) -> bool:
        """Its import has not started (a worker that gets it later finds it cancelled)."""
        return self.status == self.State.QUEUED and self.started_at is None

    @property
    def waiting_for_columns(self) -> bool:
        """Stored, its columns not yet confirmed: no worker has it (and it can be cancelled)."""
        return self.status == self.State.QUEUED and self.phase == self.WAITING_FOR_COLUMNS


class LeadRow(models.Model):
    """A validated row of an upload, staged for the set-based merge, then removed.

    On PostgreSQL the table is UNLOGGED and filled with COPY: it is scratch space that
    a crash may lose, and a re-delivered import task stages the file again.
    """

    upload = models.ForeignKey(
        LeadUpload, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    row_number = models.PositiveIntegerField()
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=254, blank=True)
    company = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=255, blank=True)
    phone = models.CharField(max_length=16, blank=True)
    mobile = models.CharField(max_length=16, blank=True)
    phone_raw = models.CharField(max_length=64, blank=True)
    mobile_raw = models.CharField(max_length=64, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    dedup_key = models.TextField()

    class Meta:
        indexes = [models.Index(fields=["upload", "row_number"], name="campaigns_leadrow_upload")]


class LeadRejection(models.Model):
    """A bad cell or row of an upload, for the receipt (row number, column, reason)."""

    upload = models.ForeignKey(
        LeadUpload,
        on_delete=models.CASCADE,
        related_name="rejections",
        db_constraint=False,
        db_index=False,
    )
    row_number = models.PositiveIntegerField()
    column = models.CharField(max_length=64)
    value = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=255)
    row_kept = models.BooleanField(
        default=False, help_text="The row was kept with its other number; only this cell dropped."
    )
    original = models.TextField(
        blank=True,
        help_text="The row as in the file, when it was not imported (on its first rejection).",
    )

    class Meta:
        ordering = ["upload", "row_number", "id"]
        indexes = [models.Index(fields=["upload", "row_number"], name="campaigns_rejection_row")]


class Contact(models.Model):
    """A person in a campaign. Rows with the same email (any case) are one contact.

    On PostgreSQL the table is partitioned by campaign (migration 0004): a campaign's
    first upload loads a table of its own and indexes it once, and the primary key in the
    database is (id, campaign_id).
    """

    # Each index costs every ingested row: the dedup key covers campaign; upload is lineage.
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="contacts",
        db_constraint=False,
        db_index=False,
    )
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
        db_constraint=False,
    )
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=254, blank=True)
    title = models.CharField(max_length=255, blank=True)
    phone = models.ForeignKey(
        CampaignPhone,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contacts_by_phone",
        db_constraint=False,
    )
    mobile = models.ForeignKey(
        CampaignPhone,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contacts_by_mobile",
        db_constraint=False,
    )
    phone_raw = models.CharField(max_length=64, blank=True, help_text="As uploaded.")
    mobile_raw = models.CharField(max_length=64, blank=True, help_text="As uploaded.")
    extra = models.JSONField(default=dict, blank=True, help_text="Other columns of the row.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # By email (any case), else a hash of name, company and numbers (campaigns.ingest.rules),
    # so an identical row uploaded again is the same contact.
    dedup_key = models.TextField(editable=False)
    merged_rows = models.PositiveIntegerField(
        default=0, help_text="Further rows merged into this contact by email."
    )
    upload = models.ForeignKey(
        LeadUpload,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    row_number = models.PositiveIntegerField(null=True, blank=True)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        db_default="",
        help_text="The lead's IANA time zone when known; else its number's area code says.",
    )
    # Where the lead stands in the dialling queue (docs/dialing.md, "Next lead"), kept by
    # the outcome services so the next lead is an index range, not a history scan. The
    # database fills the defaults, so the lead merge's COPY names none of these.
    queue = models.CharField(
        max_length=10, choices=Queue.choices, db_default=Queue.FRESH, default=Queue.FRESH
    )
    queue_at = models.DateTimeField(
        null=True, blank=True, help_text="When a retry or callback becomes due."
    )
    attempts = models.PositiveSmallIntegerField(db_default=0, default=0)
    phone_wrong = models.BooleanField(
        db_default=False, default=False, help_text="Its phone is a wrong number for this lead."
    )
    mobile_wrong = models.BooleanField(
        db_default=False, default=False, help_text="Its mobile is a wrong number for this lead."
    )
    # Its zones as one key (calling_window.zone_key), '' until worked out: "inside its
    # calling window now" is then a range of the queue index per open key (docs/dialing.md).
    dial_zone = models.CharField(max_length=200, blank=True, db_default="", editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "dedup_key"], name="campaigns_contact_dedup_unique"
            ),
        ]
        indexes = [
            # The next lead, per zone key: fresh in id order, retries and callbacks when due.
            models.Index(
                fields=["campaign", "queue", "dial_zone", "queue_at", "id"],
                name="campaigns_contact_queue_zone",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or f"Contact #{self.pk}"

    @property
    def has_callable_number(self) -> bool:
        """At least one of its numbers is still active and not a wrong number for it."""
        return bool(self.dialable_phones)

    @property
    def dialable_phones(self) -> list[CampaignPhone]:
        """Its active numbers, less those it was found not to answer (wrong number)."""
        return [
            p
            for p, wrong in ((self.phone, self.phone_wrong), (self.mobile, self.mobile_wrong))
            if p is not None and p.status == Status.ACTIVE and not wrong
        ]


class Disposition(models.Model):
    """The log of what callers did: outcomes of calls, disqualifications and their undoing."""

    class Outcome(models.TextChoices):
        NO_ANSWER = "no_answer", "No answer"
        VOICEMAIL = "voicemail", "Left voicemail"
        CALLBACK = "callback", "Call back later"
        INTERESTED = "interested", "Interested"
        NOT_INTERESTED = "not_interested", "Not interested"
        WRONG_NUMBER = "wrong_number", "Wrong number"
        DISQUALIFIED = "disqualified", "Disqualified"
        REQUALIFIED = "requalified", "Disqualification undone"

    class Target(models.TextChoices):
        CONTACT = "contact", "Contact"
        ACCOUNT = "account", "Account"
        PHONE = "phone", "Phone number"

    # Outcomes a caller logs after a call (the rest are written by disqualify/undo).
    CALL_OUTCOMES = (
        Outcome.NO_ANSWER,
        Outcome.VOICEMAIL,
        Outcome.CALLBACK,
        Outcome.INTERESTED,
        Outcome.NOT_INTERESTED,
        Outcome.WRONG_NUMBER,
    )

    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="dispositions"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    target = models.CharField(max_length=10, choices=Target.choices)
    scope = models.CharField(max_length=16, choices=Scope.choices, blank=True)
    # Contacts are partitioned: the database checks (campaign_id, contact_id) (migration 0004).
    contact = models.ForeignKey(
        Contact,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="dispositions",
        db_constraint=False,
    )
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="dispositions",
        db_constraint=False,
    )
    phone = models.ForeignKey(
        CampaignPhone,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="dispositions",
        db_constraint=False,
    )
    number = models.CharField(max_length=16, blank=True, help_text="E.164 of the number, if any.")
    note = models.TextField(blank=True)
    callback_at = models.DateTimeField(
        null=True, blank=True, help_text="For “Call back later”: when the caller should call."
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undoes = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="undone_by",
        help_text="The disqualification this entry undid.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(F("campaign"), F("created_at").desc(), name="campaigns_disp_log"),
            # A contact's outcomes newest first: its last one, and whether a callback was settled.
            models.Index(F("contact"), F("created_at").desc(), name="campaigns_disp_contact"),
            # The workspace's callbacks due today: a range per campaign, only rows that have one.
            models.Index(
                fields=["campaign", "callback_at"],
                condition=Q(callback_at__isnull=False),
                name="campaigns_disp_callbacks",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(contact__isnull=False)
                | Q(account__isnull=False)
                | Q(phone__isnull=False)
                | ~Q(number=""),
                name="campaigns_disposition_has_target",
                violation_error_message="A disposition applies to a contact, account or number.",
            ),
            models.CheckConstraint(
                condition=Q(contact__isnull=True) | Q(campaign__isnull=False),
                name="campaigns_disposition_contact_campaign",
                violation_error_message="A disposition about a contact names its campaign.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.get_target_display()})"


# The dialling models live beside these (the lead queue, docs/dialing.md).
from campaigns.models_dialing import (  # noqa: E402
    CallAttempt,
    DoNotCallImport,
    DoNotCallNumber,
    LeadLease,
    Outcome,
)

__all__ = [
    "Account",
    "CallAttempt",
    "Campaign",
    "CampaignPhone",
    "Contact",
    "Disposition",
    "DoNotCallImport",
    "DoNotCallNumber",
    "LeadLease",
    "LeadRejection",
    "LeadRow",
    "LeadUpload",
    "Outcome",
    "Queue",
    "Scope",
    "Status",
]
