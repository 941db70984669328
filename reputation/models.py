"""Phone reputation: the add-on's settings, monitored numbers, slots, checks, replacements.

The rules these rows keep are in ``docs/reputation.md``: slots are counted from
:class:`SlotClaim` rows (never from signals), a day's check is a :class:`DailyCheckRun`
row, and a replacement is a :class:`NumberReplacement` row that is also its audit.
"""

import calendar
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from crm.singletons import SingletonSettings, singleton_constraint

NUMBERS_PER_BLOCK = 15


def billing_cycle(anchor: date, today: date) -> tuple[date, date]:
    """The monthly cycle holding ``today``: (first day, first day of the next cycle).

    Cycles start on the anchor's day of the month (the 31st becomes a short month's last).
    """

    def on(year: int, month: int) -> date:
        return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))

    def shift(year: int, month: int, by: int) -> tuple[int, int]:
        index = year * 12 + month - 1 + by
        return index // 12, index % 12 + 1

    start = on(today.year, today.month)
    if start > today:
        start = on(*shift(today.year, today.month, -1))
    return start, on(*shift(start.year, start.month, 1))


class ReplacementArea(models.TextChoices):
    AREA_CODE = "area_code", "The same area code only"
    SAME_STATE = "state", "The same area code, else the same state"
    ANY = "any", "The same area code, else the same state, else anywhere"


class ReputationSettings(SingletonSettings):
    """The Advanced Phone Reputation add-on (one row, ``load()``): the Add-on page."""

    addon_enabled = models.BooleanField(
        "Advanced Phone Reputation", default=False, help_text="Switch the add-on on or off."
    )
    auto_replace = models.BooleanField(
        "Phone auto-replacement",
        default=False,
        help_text="Replace a number automatically when a check that succeeded today finds it "
        "SPAM (a new number in the same area code, else where the next setting allows).",
    )
    replacement_area = models.CharField(
        "replacement numbers from",
        max_length=10,
        choices=ReplacementArea.choices,
        default=ReplacementArea.SAME_STATE,
        help_text="Where a replacement may come from when the old number's area code has none.",
    )
    blocks = models.PositiveSmallIntegerField(
        default=1,
        validators=[MaxValueValidator(1000)],
        help_text=f"Blocks of {NUMBERS_PER_BLOCK} monitored numbers bought.",
    )
    block_price = models.DecimalField(
        "price per block (USD a month)", max_digits=8, decimal_places=2, default=Decimal("49.00")
    )
    cycle_anchor = models.DateField(
        null=True, blank=True, help_text="Billing cycles start on this day of each month."
    )
    spam_threshold = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="SPAM when at least this many sources flag a number. Empty: a majority "
        "of the sources checked.",
    )
    at_risk_fraction = models.DecimalField(
        "at-risk fraction",
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.60"),
        validators=[MinValueValidator(Decimal("0.05")), MaxValueValidator(Decimal("1.00"))],
        help_text="At risk when the answer rate of the last 3 days falls below this "
        "fraction of the 14 days before.",
    )
    resting_share = models.DecimalField(
        "resting share",
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.30"),
        validators=[MinValueValidator(Decimal("0.00")), MaxValueValidator(Decimal("1.00"))],
        help_text="At most this share of the caller-ID pool rests at once; beyond it, the "
        "numbers clean longest come back early (a SPAM number never does).",
    )
    daily_call_warning = models.PositiveIntegerField(
        default=75,
        validators=[MinValueValidator(1)],
        help_text="Warn when a number places more calls than this in a day.",
    )

    class Meta:
        verbose_name = "add-on: Advanced Phone Reputation"
        verbose_name_plural = "add-on: Advanced Phone Reputation"
        constraints = [
            singleton_constraint("reputation_settings_singleton"),
            models.CheckConstraint(
                condition=Q(blocks__lte=1000), name="reputation_settings_blocks_range"
            ),
        ]

    def __str__(self) -> str:
        return "Advanced Phone Reputation"

    @property
    def capacity(self) -> int:
        return self.blocks * NUMBERS_PER_BLOCK

    @property
    def monthly_price(self) -> Decimal:
        return self.blocks * self.block_price

    def threshold_for(self, sources: int) -> int:
        """How many flagging sources make SPAM, out of ``sources`` checked."""
        return self.spam_threshold or sources // 2 + 1


class Verdict(models.TextChoices):
    PENDING = "pending", "Pending"
    SAFE = "safe", "SAFE"
    SPAM = "spam", "SPAM"


class MonitoredNumber(models.Model):
    """An owned number under reputation monitoring, with its latest verdict."""

    Status = Verdict

    owned_number = models.OneToOneField(
        "telephony.OwnedNumber", on_delete=models.CASCADE, related_name="reputation"
    )
    status = models.CharField(max_length=8, choices=Verdict.choices, default=Verdict.PENDING)
    monitored_at = models.DateTimeField(auto_now_add=True)
    monitored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    # The calendar day whose daily check has covered this number (pre-screening does not).
    daily_checked_on = models.DateField(null=True, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True, help_text="When it turned SPAM.")
    flagged_sources = models.PositiveSmallIntegerField(default=0)
    sources = models.PositiveSmallIntegerField(default=0)
    # The latest check's answer per source: [{"carrier", "label", "score", "flagged"}].
    results = models.JSONField(default=list, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    at_risk = models.BooleanField(default=False)
    answer_rate_recent = models.FloatField(null=True, blank=True)
    answer_rate_before = models.FloatField(null=True, blank=True)
    # Resting (docs/dialing.md, "Caller ID"): a flagged number leaves the caller-ID pool,
    # still owned and monitored, until it has been clean for RESTING_CLEAN_DAYS.
    resting_since = models.DateTimeField(null=True, blank=True)
    clean_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["owned_number__number"]
        indexes = [
            models.Index(fields=["status", "flagged_at"], name="reputation_monitored_status"),
            models.Index(fields=["daily_checked_on"], name="reputation_monitored_daily"),
        ]

    def __str__(self) -> str:
        return f"{self.owned_number.number} {self.get_status_display()}"


class SlotClaim(models.Model):
    """One monitoring slot used in one billing cycle: the record slots are counted from.

    A number monitored during a cycle holds its claim until the cycle ends, released or
    deleted (``number`` keeps it as text); a replacement takes the claim over.
    """

    cycle_start = models.DateField()
    number = models.CharField(max_length=32)
    owned_number = models.ForeignKey(
        "telephony.OwnedNumber",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="slot_claims",
    )
    claimed_at = models.DateTimeField(auto_now_add=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    passed_from = models.CharField(
        max_length=32, blank=True, help_text="The number whose slot this is (a replacement)."
    )

    class Meta:
        ordering = ["-cycle_start", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["cycle_start", "number"], name="reputation_slot_claim_once_per_cycle"
            )
        ]
        indexes = [
            models.Index(fields=["cycle_start", "owned_number"], name="reputation_claim_cycle")
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.cycle_start:%Y-%m-%d} cycle)"


class CheckKind(models.TextChoices):
    PRESCREEN = "prescreen", "Pre-screening"
    DAILY = "daily", "Daily check"
    FORCED = "forced", "Forced check"


class SourceCheck(models.Model):
    """What one source said about one number on one day: the history the chart draws."""

    # No index of its own: ``reputation_check_number`` (owned_number, day) serves lookups by
    # number; a second index was one more entry to write for each of the daily check's
    # 30,000 history rows at 10k numbers.
    owned_number = models.ForeignKey(
        "telephony.OwnedNumber",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reputation_checks",
        db_index=False,
    )
    number = models.CharField(max_length=32)
    day = models.DateField()
    source = models.CharField(max_length=40)
    label = models.CharField(max_length=80, blank=True)
    score = models.IntegerField(null=True, blank=True)
    flagged = models.BooleanField(default=False)
    kind = models.CharField(max_length=10, choices=CheckKind.choices)
    checked_at = models.DateTimeField()

    class Meta:
        ordering = ["-day", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["number", "day", "source"], name="reputation_source_check_daily"
            )
        ]
        indexes = [models.Index(fields=["owned_number", "day"], name="reputation_check_number")]

    def __str__(self) -> str:
        return f"{self.number} {self.day} {self.source}: {'flagged' if self.flagged else 'clean'}"


class DailyCheckRun(models.Model):
    """One day's check (or a forced re-check): its progress, counters and failures."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        INCOMPLETE = "incomplete", "Incomplete (some numbers could not be checked)"

    day = models.DateField()
    forced = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    numbers_checked = models.PositiveIntegerField(default=0)
    numbers_failed = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0)
    turned_spam = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # The beat may fire twice: one daily run per calendar day.
            models.UniqueConstraint(
                fields=["day"], condition=Q(forced=False), name="reputation_daily_run_once"
            )
        ]

    def __str__(self) -> str:
        return f"{'Forced' if self.forced else 'Daily'} check {self.day:%Y-%m-%d}"


class NumberReplacement(models.Model):
    """A replacement of a SPAM number, from purchase to release: state and audit in one row."""

    class State(models.TextChoices):
        STARTED = "started", "Started"
        BOUGHT = "bought", "New number bought"
        ACTIVATED = "activated", "New number active, old one not yet released"
        DONE = "done", "Done"
        UNDONE = "undone", "Undone (the bought number was released)"
        REFUSED = "refused", "Refused (no number to buy)"
        WAITING = "waiting", "Waiting (the number sold was outside the allowed area)"
        FAILED = "failed", "Failed"

    day = models.DateField()
    old = models.ForeignKey(
        "telephony.OwnedNumber",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replacements_out",
    )
    old_number = models.CharField(max_length=32)
    new = models.ForeignKey(
        "telephony.OwnedNumber",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replacements_in",
    )
    new_number = models.CharField(max_length=32, blank=True)
    new_provider_id = models.CharField(max_length=64, blank=True)
    # Sent with the purchase where the inventory takes it, and looked up at the vendor
    # before buying again after a purchase whose answer never came.
    request_key = models.CharField(max_length=64, blank=True)
    # Where the new number comes from, in words: "area code 415, as the old number".
    placement = models.CharField(max_length=200, blank=True)
    # Numbers bought outside the allowed area and released at once: number, provider_id,
    # cost (as the provider gave it, or null), released (bool).
    released_unused = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.STARTED)
    automatic = models.BooleanField(default=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The verdict that caused it: status, flagged/sources and the per-source results.
    verdict = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A failed attempt bought nothing: it may be tried again the same day.
            models.UniqueConstraint(
                fields=["old_number", "day"],
                condition=~Q(state="failed"),
                name="reputation_one_replacement_a_day",
            )
        ]
        indexes = [models.Index(fields=["state"], name="reputation_replacement_state")]

    def __str__(self) -> str:
        return f"{self.old_number} → {self.new_number or '?'} ({self.get_state_display()})"
