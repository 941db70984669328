"""Mobile Phone Number Identification's rows: its setting, runs, ledger, spend and claims
(docs/identification.md). Kept apart from telephony/models.py, which imports them so Django
registers them under the telephony app."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from crm.formatting import local_datetime
from crm.singletons import SingletonSettings, singleton_constraint
from telephony.providers.base import LineType


class OrchestrationSettings(SingletonSettings):
    """Orchestration: Mobile Phone Number Identification (one row, ``load()``)."""

    mobile_identification = models.BooleanField(
        "Mobile Phone Number Identification",
        default=True,
        help_text=(
            "Look up the carrier line type of new callers' numbers and, when switched on, "
            "of the existing Other numbers whose type could change: a mobile number "
            "becomes Mobile, so the caller's next calls and texts reach one profile."
        ),
    )
    lookup_monthly_cap = models.DecimalField(
        "monthly spending cap (USD)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Lookups stop before this month's spend would pass it. Empty: no cap.",
    )
    lookup_cache_days = models.PositiveSmallIntegerField(
        "trust an answer for (days)",
        default=180,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="A number looked up within this many days is never paid for again.",
    )
    # Set when the provider refuses every lookup (credentials, package, approval); the
    # settings page shows it, and saving the page clears it and resumes.
    lookups_stopped_reason = models.CharField(max_length=255, blank=True)
    lookups_stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "orchestration"
        verbose_name_plural = "orchestration"
        constraints = [singleton_constraint("telephony_orchestration_singleton")]

    def __str__(self) -> str:
        return "Orchestration"


class OrchestrationSwitch(models.Model):
    """Who switched Mobile Phone Number Identification on or off, and when."""

    enabled = models.BooleanField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{'On' if self.enabled else 'Off'} {local_datetime(self.at)}"


class BackfillRun(models.Model):
    """One pass of the identification backfill: its state lives here, so a killed worker
    resumes at ``cursor`` (numbers are taken in E.164 order)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused: monthly cap reached"
        HALTED = "halted", "Stopped: the provider refuses lookups"
        STOPPED = "stopped", "Stopped: switched off"
        COMPLETED = "completed", "Completed"

    OPEN_STATUSES = (Status.RUNNING, Status.PAUSED, Status.HALTED)

    class Trigger(models.TextChoices):
        SWITCHED_ON = "switched_on", "Switched on"
        INSTALL = "install", "First install"
        COMMAND = "command", "identify_mobile_numbers"
        RETRY = "retry", "Retry of failed lookups"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=12, choices=Trigger.choices)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    attempt = models.PositiveSmallIntegerField(default=1, help_text="Retry passes so far.")
    cursor = models.CharField(max_length=16, blank=True, help_text="Last number finished.")
    price = models.DecimalField(max_digits=10, decimal_places=5)
    planned_numbers = models.PositiveIntegerField(default=0)
    planned_lookups = models.PositiveIntegerField(default=0)
    planned_cost = models.DecimalField(max_digits=12, decimal_places=5, default=0)
    numbers_done = models.PositiveIntegerField(default=0)
    lookups = models.PositiveIntegerField(default=0)
    answered_from_cache = models.PositiveIntegerField(default=0)
    turned_mobile = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    spent = models.DecimalField(max_digits=12, decimal_places=5, default=0)
    message = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status"], name="telephony_backfill_status")]

    def __str__(self) -> str:
        return f"Backfill #{self.pk} ({self.get_status_display()})"


class LineTypeLookup(models.Model):
    """The ledger: every answer a line-type provider gave, with what it cost.

    Written in its own commit the moment the answer arrives, so money spent is never
    unrecorded; an answer newer than ``lookup_cache_days`` is reused instead of paid for.
    """

    class Purpose(models.TextChoices):
        NEW_CALLER = "new_caller", "New caller"
        BACKFILL = "backfill", "Backfill"

    number = models.CharField(max_length=16, help_text="E.164")
    line_type = models.CharField(max_length=10, choices=LineType.CHOICES)
    carrier = models.CharField(max_length=100, blank=True)
    valid = models.BooleanField(default=True, help_text="False: no such number.")
    error = models.CharField(max_length=16, blank=True, help_text="The provider's error code.")
    cost = models.DecimalField(max_digits=10, decimal_places=5)
    at_risk = models.BooleanField(
        default=False,
        help_text=(
            "An attempt, not an answer: the lookup was sent and timed out, so the vendor "
            "may have billed it. Its cost counts against the cap; it is never reused."
        ),
    )
    provider = models.CharField(max_length=200, help_text="Its name, or its dotted path.")
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    backfill = models.ForeignKey(
        BackfillRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    looked_up_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-looked_up_at", "-id"]
        verbose_name = "line type lookup"
        indexes = [
            models.Index(fields=["number", "-looked_up_at"], name="telephony_lookup_number"),
            models.Index(fields=["looked_up_at"], name="telephony_lookup_month"),
        ]

    def __str__(self) -> str:
        return f"{self.number}: {self.get_line_type_display()}"


class LookupSpend(models.Model):
    """Money committed to lookups in one calendar month (UTC): answered and in flight.

    The cap is checked against this with one conditional UPDATE before a lookup is sent,
    so workers racing for the last dollars of the cap cannot pass it together.
    """

    month = models.DateField(unique=True, help_text="The first day of the month.")
    committed = models.DecimalField(max_digits=12, decimal_places=5, default=0)

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.committed}"


class LookupClaim(models.Model):
    """A number whose lookup someone is about to pay for, held until its answer is in the
    ledger: the backfill and a new caller's task each take the claim before they check
    the ledger, so of two that want the same number, one pays and the other reads its
    answer. A claim older than ``telephony.identification.ledger.CLAIM_STALE_AFTER`` belonged to
    a worker that died and may be taken over.
    """

    number = models.CharField(max_length=16, unique=True, help_text="E.164")
    owner = models.CharField(max_length=40, help_text='"backfill:<run>" or "caller:<phone>"')
    claimed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["owner", "number"], name="telephony_claim_owner")]

    def __str__(self) -> str:
        return f"{self.number} ({self.owner})"
