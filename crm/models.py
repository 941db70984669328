from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.db.models.lookups import In
from phonenumber_field.modelfields import PhoneNumberField

from crm.formatting import local_datetime


@PhoneNumberField.register_lookup
class E164In(In):
    """``number__e164_in=[...]`` for numbers already in E.164 (crm.phones made them so):
    compared as stored. ``number__in`` parses and validates each value again, ~150 µs a
    number, and a page of 50 leads asks about 100 (docs/profiles/workspace.md)."""

    lookup_name = "e164_in"
    prepare_rhs = False


class Customer(models.Model):
    class Source(models.TextChoices):
        CALL = "call", "Call"
        SMS = "sms", "SMS"
        MANUAL = "manual", "Manual"
        IMPORT = "import", "Import"
        API = "api", "API"

    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_from",
        help_text="Set when this profile was merged into another; merged profiles are hidden.",
    )
    # Kept current by the telephony linking transaction so lists, "most recently active"
    # and analytics never scan the whole call history.
    interaction_count = models.PositiveIntegerField(default=0)
    first_interaction_at = models.DateTimeField(null=True, blank=True)
    last_interaction_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["-last_interaction_at"], name="crm_customer_last_seen"),
            models.Index(fields=["-interaction_count"], name="crm_customer_interactions"),
            # Live profiles in list order: lets deep pages skip rows in the index alone.
            models.Index(
                fields=["-id"], condition=Q(merged_into__isnull=True), name="crm_customer_live"
            ),
        ]
        # Case-insensitive prefix indexes on name/email are PostgreSQL-only functional
        # indexes with text_pattern_ops; see migration 0002.

    def __str__(self) -> str:
        return self.name or self.email or f"Customer #{self.pk}"


class PhoneNumber(models.Model):
    class Type(models.TextChoices):
        MOBILE = "mobile", "Mobile"
        HOME = "home", "Home"
        OFFICE = "office", "Office"
        OTHER = "other", "Other"

    class TypeSource(models.TextChoices):
        MANUAL = "manual", "Set by a person"
        INBOUND_SMS = "inbound_sms", "Inbound SMS"
        INBOUND_CALL = "inbound_call", "Inbound call"
        LOOKUP = "lookup", "Carrier lookup"
        BACKFILL = "backfill", "Identification backfill"
        IMPORT = "import", "Import"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="phone_numbers")
    number = PhoneNumberField(db_index=True)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.OTHER)
    sms = models.BooleanField(
        "Mobile + SMS", default=False, help_text="The number texts us (only a Mobile can)."
    )
    type_source = models.CharField(
        max_length=12, choices=TypeSource.choices, default=TypeSource.MANUAL
    )
    # Set by an inbound STOP (or a synonym), cleared by START: a number, not a profile,
    # opts out, so every row holding it moves together (docs/messaging.md).
    # A database default too: bulk loads (COPY, INSERT ... SELECT) name only their columns.
    sms_opted_out = models.BooleanField(
        "opted out of SMS",
        default=False,
        db_default=False,
        help_text="The number texted STOP: nothing is sent to it until it texts START.",
    )
    sms_opted_out_at = models.DateTimeField("opted out at", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "number"],
                name="crm_phone_unique_per_customer",
                violation_error_message="This customer already has this number.",
            ),
            models.UniqueConstraint(
                fields=["number"],
                condition=Q(type="mobile"),
                name="crm_phone_mobile_single_owner",
                violation_error_message=(
                    "This number is already another customer's Mobile number; "
                    "a Mobile number belongs to one customer only."
                ),
            ),
            models.CheckConstraint(
                condition=Q(sms=False) | Q(type="mobile"),
                name="crm_phone_sms_only_mobile",
                violation_error_message="Only a Mobile number can be tagged Mobile + SMS.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.get_type_display()})"


class PhoneNumberChange(models.Model):
    """Audit trail: every automatic (and manual) change to a customer's numbers, with why."""

    class Action(models.TextChoices):
        ADDED = "added", "Added"
        TYPE_CHANGED = "type_changed", "Type changed"
        REMOVED = "removed", "Removed"
        MOVED = "moved", "Moved by merge"
        SMS_OPT_OUT = "sms_opt_out", "Opted out of SMS"
        SMS_OPT_IN = "sms_opt_in", "Opted in to SMS"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="number_changes")
    phone_number = models.ForeignKey(
        PhoneNumber, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    number = models.CharField(max_length=32)
    action = models.CharField(max_length=16, choices=Action.choices)
    old_type = models.CharField(max_length=10, blank=True)
    new_type = models.CharField(max_length=10, blank=True)
    old_sms = models.BooleanField(null=True, blank=True)
    new_sms = models.BooleanField(null=True, blank=True)
    type_source = models.CharField(max_length=12, choices=PhoneNumber.TypeSource.choices)
    cause = models.CharField(max_length=255, help_text="Why it changed, e.g. 'inbound SMS SM…'.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "phone number change"

    def __str__(self) -> str:
        return f"{self.number}: {self.get_action_display()} ({self.cause})"


class MatchSuggestion(models.Model):
    """Two live profiles that may be one person: they share a number or an email."""

    class Reason(models.TextChoices):
        SHARED_NUMBER = "shared_number", "Share a phone number"
        SHARED_EMAIL = "shared_email", "Share an email address"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MERGED = "merged", "Merged"
        DISMISSED = "dismissed", "Dismissed"

    # Stored with customer.id < other.id so a pair has exactly one row.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    detail = models.CharField(max_length=254, help_text="The shared number or email.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "other"], name="crm_match_pair_unique"),
            models.CheckConstraint(
                condition=Q(customer__lt=models.F("other")), name="crm_match_pair_ordered"
            ),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="crm_match_status")]

    def __str__(self) -> str:
        return f"{self.customer} / {self.other}: {self.get_reason_display()} ({self.detail})"


class CustomerMerge(models.Model):
    """The log of a merge: which profile was kept, which merged away, what moved, and
    what an Administrator needs to undo it (docs/product.md, "Possible matches and merges")."""

    # An Administrator may undo a merge this long after it (docs/product.md).
    UNDO_DAYS = 30

    kept = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_kept")
    merged = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_away")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    moved = models.JSONField(default=dict, help_text="Rows moved to the kept profile, by kind.")
    values = models.JSONField(
        default=dict,
        encoder=DjangoJSONEncoder,
        help_text="Both profiles' name, email and counters before the merge, and which "
        "profile's name and email the kept profile took.",
    )
    undo = models.JSONField(
        default=dict,
        help_text="What undoing needs: the ids of the rows moved (by model and field), the "
        "merged profile's copies of shared numbers, the kept numbers whose type was raised.",
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("undo_customermerge", "Can undo a merge")]

    def __str__(self) -> str:
        return f"#{self.merged_id} merged into #{self.kept_id}"


class CustomerErasure(models.Model):
    """The audit of an erasure on request: who, when, and how many of what kind went.

    Never the erased values themselves: ``erased`` holds counts by kind
    (``{"phone numbers": 2, "call transcripts": 5, ...}``).
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="erasures")
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reference = models.CharField(
        max_length=100,
        blank=True,
        help_text="Where the request came from, e.g. a ticket number; never the person's details.",
    )
    erased = models.JSONField(default=dict, help_text="How many of each kind were erased.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "customer erasure"

    def __str__(self) -> str:
        return f"Erasure of customer #{self.customer_id}, {local_datetime(self.created_at)}"


class Note(models.Model):
    """What an agent writes on a customer's record, or on one of their calls
    (``telephony.CallNote`` links a note to its call: crm knows no calls)."""

    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The profile timeline reads a customer's notes newest first, a page at a time.
            models.Index(fields=["customer", "-created_at", "-id"], name="crm_note_timeline")
        ]

    def __str__(self) -> str:
        return f"Note #{self.pk} by {self.author or 'a removed user'}"


class NoteEdit(models.Model):
    """The audit of a note: each edit keeps the text it replaced, who, and when."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="edits")
    text_before = models.TextField()
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    edited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-edited_at", "-id"]

    def __str__(self) -> str:
        return f"Edit of note #{self.note_id} at {local_datetime(self.edited_at)}"


class ApiToken(models.Model):
    """A staff user's API token, stored as its SHA-256 digest: the key is shown once, when
    made, and cannot be read back (``docs/search.md``, "API tokens")."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What uses it, e.g. 'voice assistant'.")
    prefix = models.CharField(max_length=12, help_text="The key's first characters, to tell it.")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class StaffProfile(models.Model):
    """What Switchboard knows of a team member beyond the login: where to ring them for
    "call me first" click-to-call, and the zone they read times in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    phone = models.CharField(
        max_length=16,
        blank=True,
        help_text="E.164. Click-to-call rings this phone first, then dials the lead.",
    )
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="IANA zone, e.g. America/New_York. Empty: the team's."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "staff profile"

    def __str__(self) -> str:
        return f"Profile of {self.user}"
