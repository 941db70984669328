from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from phonenumber_field.modelfields import PhoneNumberField

from crm.formatting import local_datetime
from crm.models import Customer, Note
from crm.singletons import SingletonSettings, singleton_constraint
from telephony.parties import ADDRESS_MAX_LENGTH, party_label


class OwnedNumber(models.Model):
    """A number the team calls from ("Phone system > phone numbers")."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        # Still the team's, never offered as a caller ID (e.g. kept for inbound only).
        HELD = "held", "Held (not dialled from)"
        RELEASED = "released", "Released"

    number = PhoneNumberField()
    label = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    provider_id = models.CharField(
        max_length=64, blank=True, help_text="The number provider's id (e.g. Twilio PN…)."
    )
    acquired_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaces",
        help_text="The number that took over from this one (auto-replacement).",
    )

    class Meta:
        ordering = ["number"]
        # The Phone numbers list's order (the changelist adds -pk to make it total): a
        # page is read from the index instead of sorting the whole table.
        indexes = [models.Index(fields=["number", "-id"], name="telephony_owned_number_list")]
        constraints = [
            models.UniqueConstraint(
                fields=["number"],
                condition=Q(status="active"),
                name="telephony_owned_number_active_unique",
                violation_error_message="This number is already one of our active numbers.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.label}".strip()


class Assistant(models.Model):
    """A voice assistant or line that handles calls (named by the platform's reports)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"


class Channel(models.TextChoices):
    TWILIO = "twilio", "Twilio"
    ASSISTANT = "assistant", "Assistant platform"


class Call(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RINGING = "ringing", "Ringing"
        IN_PROGRESS = "in-progress", "In progress"
        COMPLETED = "completed", "Completed"
        BUSY = "busy", "Busy"
        FAILED = "failed", "Failed"
        NO_ANSWER = "no-answer", "No answer"
        CANCELED = "canceled", "Canceled"

    # A late or out-of-order status callback never moves a call out of these.
    FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})

    # None for a withheld or non-phone caller (telephony/parties.py): nobody to link.
    customer = models.ForeignKey(
        "crm.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="calls",
        db_index=False,
    )
    direction = models.CharField(max_length=10, choices=Direction.choices, default="inbound")
    channel = models.CharField(max_length=10, choices=Channel.choices, default="twilio")
    # E.164, or the address as sent: "anonymous", "client:alice", "sip:alice@example.com".
    from_number = models.CharField(max_length=ADDRESS_MAX_LENGTH)
    to_number = models.CharField(max_length=ADDRESS_MAX_LENGTH, blank=True)
    external_id = models.CharField(
        max_length=64, unique=True, help_text="Twilio CallSid or the assistant platform's id."
    )
    assistant = models.ForeignKey(
        Assistant, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default="ringing")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1 (unhappy) to 5 (delighted).",
    )
    reason = models.CharField(max_length=200, blank=True)
    transcript = models.TextField(blank=True)
    transcript_cleared_at = models.DateTimeField(
        null=True, blank=True, help_text="When data retention removed the transcript."
    )
    # Voicemail (docs/voice.md): set when the answer sent the caller to <Record>; the
    # recording and Twilio's transcription arrive later by their own callbacks.
    voicemail = models.BooleanField(default=False, db_default=False)
    recording_url = models.URLField(max_length=500, blank=True, default="", db_default="")
    recording_sid = models.CharField(max_length=64, blank=True, default="", db_default="")
    recording_seconds = models.PositiveIntegerField(null=True, blank=True)
    # A missed call or voicemail is worked through once: who handled it and when.
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True)
                | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="telephony_call_satisfaction_1_5",
                violation_error_message="Satisfaction is a score from 1 to 5.",
            ),
        ]
        indexes = [
            # The profile timeline and per-customer analytics: one index range per customer
            # (on PostgreSQL it also covers what the analytics aggregate: migration 0004).
            models.Index(fields=["customer", "-started_at", "-id"], name="telephony_call_timeline"),
            # Retention cutoffs and the changelist's date filter.
            models.Index(fields=["started_at"], name="telephony_call_started"),
            models.Index(fields=["assistant", "-started_at"], name="telephony_call_assistant"),
            models.Index(fields=["reason", "-started_at"], name="telephony_call_reason"),
            models.Index(fields=["from_number"], name="telephony_call_from"),
            # "Missed calls and voicemails": only the inbound calls still to work through.
            models.Index(
                fields=["-started_at", "-id"],
                name="telephony_call_to_handle",
                condition=Q(direction="inbound", handled_at__isnull=True),
            ),
        ]
        permissions = [("handle_call", "Can mark a missed call or voicemail handled")]

    def __str__(self) -> str:
        when = f"{local_datetime(self.started_at)}"
        return f"{self.get_direction_display()} call {self.caller_label} {when}"

    @property
    def caller_label(self) -> str:
        return party_label(self.from_number)


class Message(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        # Ours, before the provider has answered: stored first so a send is never lost.
        PENDING = "pending", "Sending"
        # Ours: the provider did not answer (a timeout after the request left), so it may
        # have the text; its status callback settles it. Never resent automatically.
        UNKNOWN = "unknown", "Not confirmed"
        ACCEPTED = "accepted", "Accepted"
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        UNDELIVERED = "undelivered", "Undelivered"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"
        READ = "read", "Read"

    # None for a short code or an alphanumeric sender id: nobody to link.
    customer = models.ForeignKey(
        "crm.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
    )
    direction = models.CharField(max_length=10, choices=Direction.choices, default="inbound")
    from_number = models.CharField(max_length=ADDRESS_MAX_LENGTH)
    to_number = models.CharField(max_length=ADDRESS_MAX_LENGTH, blank=True)
    # Empty (NULL) only for an outbound message the provider has not given its id yet.
    external_id = models.CharField(
        max_length=64, unique=True, null=True, blank=True, help_text="Twilio MessageSid."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default="received")
    body = models.TextField(blank=True)
    sent_at = models.DateTimeField()
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The agent who sent an outbound message.",
    )
    # Database defaults too: bulk loads (COPY, INSERT ... SELECT) name only their columns.
    attempts = models.PositiveSmallIntegerField(
        default=0, db_default=0, help_text="Requests to the provider."
    )
    error_code = models.CharField(max_length=16, blank=True, default="", db_default="")
    error_message = models.CharField(max_length=255, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-sent_at", "-id"], name="telephony_message_timeline"),
            models.Index(fields=["sent_at"], name="telephony_message_sent"),
        ]
        permissions = [("send_message", "Can send an SMS to a customer")]

    def __str__(self) -> str:
        return f"SMS {self.caller_label} {local_datetime(self.sent_at)}"

    @property
    def caller_label(self) -> str:
        return party_label(self.from_number)


class Conversation(models.Model):
    """A customer's SMS conversation as the inbox sees it: one row per customer, its state
    moved by the messages (docs/messaging.md, "Inbox")."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    customer = models.OneToOneField(
        "crm.Customer", on_delete=models.CASCADE, related_name="conversation"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    awaiting_reply = models.BooleanField(
        default=True, help_text="The last message is the customer's and nobody has answered."
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_message_at = models.DateTimeField()
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        verbose_name = "SMS conversation"
        indexes = [
            models.Index(
                fields=["status", "awaiting_reply", "-last_message_at"], name="telephony_inbox"
            ),
            models.Index(fields=["assigned_to", "status"], name="telephony_inbox_assigned"),
        ]

    def __str__(self) -> str:
        return f"Conversation with customer #{self.customer_id}"


DEFAULT_SMS_HELP_TEXT = "Reply STOP to stop our texts, START to receive them again."


MISSED_STATUSES = ("no-answer", "busy", "failed", "canceled")


class MissedCall(Call):
    """Inbound calls nobody answered, or that left a voicemail (docs/voice.md)."""

    class Meta:
        proxy = True
        verbose_name = "missed call or voicemail"
        verbose_name_plural = "missed calls and voicemails"


DEFAULT_GREETING = (
    "Thank you for calling. Nobody can take your call right now: please leave a message "
    "after the tone and we will call you back."
)
# The greeting fresh installs had: it promised a connection that never came.
OLD_DEFAULT_GREETING = "Thank you for calling. Please hold while we connect you."


def default_team_time_zone() -> str:
    return settings.TIME_ZONE


class TelephonySettings(SingletonSettings):
    """Administrator settings for the phone lines and data retention (one row, ``load()``)."""

    greeting = models.CharField(
        "voicemail greeting",
        max_length=500,
        blank=True,
        default=DEFAULT_GREETING,
        help_text="Read to a caller before the tone when the call goes to voicemail (outside "
        "business hours, no forward-to number, or the forward not answered). Empty: only "
        "the tone.",
    )
    forward_to = models.CharField(
        max_length=32,
        blank=True,
        help_text="Within business hours, ring this number (any format); voicemail if it is "
        "not answered. Empty: every call goes to voicemail.",
    )
    open_days = models.CharField(
        max_length=20,
        blank=True,
        default="",
        db_default="",
        help_text="Business days (0 Monday to 6 Sunday, comma-separated). Empty: every day.",
    )
    open_time = models.TimeField(
        null=True, blank=True, help_text="Opening time, team time zone. Empty: all day."
    )
    close_time = models.TimeField(
        null=True,
        blank=True,
        help_text="Closing time, team time zone (earlier than opening: open past midnight).",
    )
    team_time_zone = models.CharField(
        max_length=64,
        blank=True,
        default=default_team_time_zone,
        help_text='The team\'s zone: business hours and "today" count in it.',
    )
    sms_auto_reply = models.CharField(
        max_length=480,
        blank=True,
        help_text="Answer every inbound SMS with this text. Leave empty not to reply.",
    )
    sms_from = models.CharField(
        "SMS from-number",
        max_length=32,
        blank=True,
        help_text="Replies go out from the number the customer last wrote to; to a customer "
        "who never texted us, from this one (one of our Twilio numbers, any format).",
    )
    sms_help_text = models.CharField(
        "HELP answer",
        max_length=480,
        blank=True,
        default=DEFAULT_SMS_HELP_TEXT,
        help_text="Sent to whoever texts HELP (empty: the default, which says how to stop).",
    )
    # Empty means keep forever: nothing is ever deleted unless an Administrator asks.
    transcript_retention_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1095)],
        help_text=(
            "Days to keep call transcripts (0 to 1095). Older transcripts are erased by the "
            "daily retention run; the call itself stays. 0 erases every transcript at the "
            "next run. Empty: keep forever."
        ),
    )
    record_retention_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1095)],
        help_text=(
            "Days to keep call and SMS records (0 to 1095). Older records are deleted by the "
            "daily retention run, transcripts with them. 0 deletes every record at the next "
            "run. Empty: keep forever."
        ),
    )

    class Meta:
        verbose_name = "telephony settings"
        verbose_name_plural = "telephony settings"
        constraints = [
            singleton_constraint("telephony_settings_singleton"),
            models.CheckConstraint(
                condition=Q(transcript_retention_days__lte=1095),
                name="telephony_settings_transcript_days_range",
            ),
            models.CheckConstraint(
                condition=Q(record_retention_days__lte=1095),
                name="telephony_settings_record_days_range",
            ),
        ]

    def __str__(self) -> str:
        return "Telephony settings"

    def clean(self) -> None:
        from crm.phones import InvalidPhoneNumber, normalize

        for name in ("forward_to", "sms_from"):
            if getattr(self, name):
                try:
                    setattr(self, name, normalize(getattr(self, name)))
                except InvalidPhoneNumber as exc:
                    raise ValidationError({name: str(exc)}) from exc
        from telephony.answering import days_parse, zone_problem

        problem = zone_problem(self.team_time_zone)
        if problem:
            raise ValidationError({"team_time_zone": problem})
        try:
            self.open_days = ",".join(str(d) for d in sorted(days_parse(self.open_days)))
        except ValueError as exc:
            raise ValidationError({"open_days": str(exc)}) from exc
        if (self.open_time is None) != (self.close_time is None):
            raise ValidationError("Give both the opening and the closing time, or neither.")
        if self.open_time is not None and self.open_time == self.close_time:
            raise ValidationError(
                "Opening and closing times are the same: leave both empty to be open all day."
            )


class RetentionRun(models.Model):
    """What one retention run deleted: the proof that the policy is applied."""

    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    transcript_cutoff = models.DateTimeField(null=True, blank=True)
    record_cutoff = models.DateTimeField(null=True, blank=True)
    transcripts_cleared = models.PositiveIntegerField(default=0)
    calls_deleted = models.PositiveIntegerField(default=0)
    messages_deleted = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Retention run {local_datetime(self.started_at)}"


class FrequentCaller(Customer):
    """The customers who reach us most, for agents (a view of ``crm.Customer``)."""

    class Meta:
        proxy = True
        verbose_name = "frequent caller"


class CallNote(models.Model):
    """Links a note (``crm.Note``, on the call's customer when it has one) to its call."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="notes")
    note = models.OneToOneField(Note, on_delete=models.CASCADE, related_name="call_link")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Note #{self.note_id} on call #{self.call_id}"


class CallerIdUsage(models.Model):
    """Outbound calls placed from one owned number in one team day: the caller-ID daily
    limit's counter (docs/dialing.md, "Caller ID"). A call claims its slot with one
    conditional update of this row, so two calls racing for a number's last call of the
    day cannot both have it; it also answers "least used today" without counting calls."""

    owned_number = models.ForeignKey(OwnedNumber, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owned_number", "day"], name="telephony_caller_id_usage_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owned_number_id} on {self.day}: {self.calls} calls"


# Identification's models live in their own module (see its docstring).
from telephony.models_identification import (  # noqa: E402, F401
    BackfillRun,
    LineTypeLookup,
    LookupClaim,
    LookupSpend,
    OrchestrationSettings,
    OrchestrationSwitch,
)
