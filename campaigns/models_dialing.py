"""Dialling: each campaign's outcomes, the calls placed to its leads, and who holds a lead."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower

# Models of campaigns.models are named by string: that module imports this one.


class Outcome(models.Model):
    """What a caller may log after a call in a campaign, and what it does to the lead."""

    class Kind(models.TextChoices):
        FINAL = "final", "Final: never dialled again"
        RETRY = "retry", "Retry: dialled again after a delay"
        WRONG_NUMBER = "wrong_number", "Wrong number: that number leaves the lead"
        CALLBACK = "callback", "Callback: dialled at the time agreed"

    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="outcomes"
    )
    name = models.CharField(max_length=60)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    retry_after_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Retry: minutes before the lead is dialled again."
    )
    max_attempts = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Retry: calls at most, after which the lead is done."
    )
    disqualifies = models.BooleanField(
        default=False, help_text="Also disqualify the contact (an Administrator can undo it)."
    )
    # The entry written to the dispositions log (its last outcome, the callbacks list).
    # One of Disposition.CALL_OUTCOMES (checked by clean()).
    disposition = models.CharField(
        max_length=20,
        default="no_answer",
        help_text="What the contacts list shows as the lead's last outcome: no_answer, "
        "voicemail, callback, interested, not_interested or wrong_number.",
    )
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["campaign", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                F("campaign"), Lower("name"), name="campaigns_outcome_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from campaigns.models import Disposition

        if self.disposition not in Disposition.CALL_OUTCOMES:
            raise ValidationError({"disposition": "Choose one of the contacts list's outcomes."})


class CallAttempt(models.Model):
    """One click-to-call of a lead: who dialled which number, from which caller ID and
    why, the ``Call`` it made, and the outcome the caller logged."""

    class State(models.TextChoices):
        DIALING = "dialing", "Dialling"
        FAILED = "failed", "Failed to start"
        LOGGED = "logged", "Outcome logged"

    call = models.OneToOneField(
        "telephony.Call",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attempt",
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.CASCADE, related_name="attempts"
    )
    # Partitioned contacts: the database checks nothing here (as for dispositions).
    contact = models.ForeignKey(
        "campaigns.Contact",
        on_delete=models.CASCADE,
        related_name="call_attempts",
        db_constraint=False,
    )
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    number = models.CharField(max_length=16, help_text="The lead's number dialled (E.164).")
    from_number = models.CharField(
        max_length=16, blank=True, help_text="The caller ID dialled from (E.164)."
    )
    caller_id_reason = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.DIALING)
    error = models.CharField(max_length=255, blank=True)
    outcome = models.ForeignKey(
        Outcome, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    callback_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    logged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(F("contact"), F("created_at").desc(), name="campaigns_attempt_contact"),
            models.Index(F("caller"), F("created_at").desc(), name="campaigns_attempt_caller"),
        ]

    def __str__(self) -> str:
        return f"Call to {self.number} ({self.get_state_display()})"


class LeadLease(models.Model):
    """A lead handed to a caller: nobody else is handed it until ``expires_at``.

    Unique per contact, so two callers asking at once cannot both hold it, whatever the
    database (docs/dialing.md, "Two callers, one lead").
    """

    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="+")
    contact = models.OneToOneField(
        "campaigns.Contact", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["caller", "campaign"], name="campaigns_lease_caller")]

    def __str__(self) -> str:
        return f"Lead {self.contact_id} held by {self.caller_id} until {self.expires_at}"


class DoNotCallImport(models.Model):
    """A file of numbers an Administrator put on the do-not-call list: its progress while
    a worker reads it, then its receipt (docs/dialing.md, "Do not call")."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    file = models.FileField(upload_to="do_not_call/%Y/%m/")
    original_name = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(default=0)
    reason = models.CharField(max_length=255, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    bytes_read = models.BigIntegerField(default=0)
    lines_read = models.PositiveIntegerField(default=0)
    numbers_added = models.PositiveIntegerField(default=0)
    numbers_already_listed = models.PositiveIntegerField(default=0)
    leads_disqualified = models.PositiveIntegerField(default=0)
    lines_rejected = models.PositiveIntegerField(default=0)
    # The first rejected lines, [line number, text, why]: enough to fix the file.
    rejections = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, help_text="Why the import stopped.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "do-not-call import"

    def __str__(self) -> str:
        return self.original_name or f"Import {self.pk}"


class DoNotCallNumber(models.Model):
    """A number disqualified everywhere: every campaign, and uploads yet to come."""

    number = models.CharField(max_length=16, unique=True, help_text="E.164")
    reason = models.CharField(max_length=255)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "do-not-call number"

    def __str__(self) -> str:
        return self.number
