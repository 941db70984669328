from django.db import models
from django.db.models import Q
from phonenumber_field.modelfields import PhoneNumberField


class OwnedNumber(models.Model):
    """A number the team calls from ("Phone system > phone numbers")."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
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
