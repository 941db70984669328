"""The customer page as a workplace (docs/pages.md, "Customer page"): a card with who the
customer is and their numbers, above the form, where an agent reads it first on a phone.

Numbers carry crm's own badges (Mobile + SMS, opted out of SMS) and whatever upper apps
add through ``number_badges`` (crm/admin_extensions.py), e.g. do-not-call.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from crm.admin_extensions import BEFORE_FORM, Panel, number_badges, number_flags, number_links
from crm.formatting import local_datetime
from crm.models import Customer, PhoneNumber
from crm.selectors import customer_phones

# Set by the number's own STOP and START (docs/messaging.md), never typed in a form.
OPT_OUT_FIELDS = ("sms_opted_out", "sms_opted_out_at")
SMS_BADGE = mark_safe('<span class="sb-sms">SMS</span>')
OPT_OUT_BADGE = mark_safe('<span class="sb-optout" title="Texted STOP">SMS opted out</span>')


def list_badges(sms: bool, opted_out: bool) -> SafeString:
    """A number's badges in a list: Mobile + SMS, opted out of SMS."""
    return format_html("{}{}", SMS_BADGE if sms else "", OPT_OUT_BADGE if opted_out else "")


def flag_badges(flags: list[Any]) -> SafeString:
    """An upper app's facts about a number (``number_flags``, e.g. do-not-call) as badges."""
    return format_html_join(
        "", '<span class="sb-flag sb-flag-{}">{}</span>', ((f.key, f.label) for f in flags)
    )


def sms_opt_out_badge(phone: PhoneNumber) -> SafeString:
    """The opt-out badge, with when on hover; empty for a number that takes texts."""
    if not phone.sms_opted_out:
        return mark_safe("")
    when = phone.sms_opted_out_at
    title = f"Texted STOP on {local_datetime(when)}" if when else "Texted STOP"
    return format_html('<span class="sb-optout" title="{}">SMS opted out</span>', title)


class OptOutColumn:
    """The opt-out column of the numbers in the customer form (nothing for a new row)."""

    @admin.display(description="SMS opt-out")
    def sms_opt_out(self, phone: PhoneNumber) -> SafeString:
        return sms_opt_out_badge(phone) if phone.pk else mark_safe("")


def customer_number_flags(customer: Customer) -> dict[str, list[Any]]:
    """``number_flags`` (e.g. do-not-call) of the customer's numbers, looked up once per
    customer instance: the card and the numbers form both show them."""
    flags = customer.__dict__.get("_number_flags")
    if flags is None:
        flags = number_flags.of([str(p.number) for p in customer_phones(customer)])
        customer.__dict__["_number_flags"] = flags
    return flags


def customer_card_panel(request: HttpRequest, customer: Customer) -> dict[str, Any] | None:
    if customer.merged_into_id:
        return None
    phones = customer_phones(customer)
    e164s = [str(phone.number) for phone in phones]
    badges = number_badges.for_numbers(e164s)
    # The facts the lists show beside a number (do-not-call) belong on the card too.
    flags = customer_number_flags(customer)
    return {
        "card": {
            "customer": customer,
            "numbers": [
                {
                    "phone": phone,
                    "e164": e164,
                    "view_url": number_links.url(e164),
                    "opt_out": sms_opt_out_badge(phone),
                    "badges": [flag_badges(flags.get(e164, [])), *badges.get(e164, [])],
                }
                for phone, e164 in zip(phones, e164s, strict=True)
            ],
        }
    }


CUSTOMER_CARD = Panel(
    key="crm-card",
    template="admin/crm/customer/_card.html",
    context=customer_card_panel,
    media_css=("crm/profile.css",),
    order=0,
    place=BEFORE_FORM,
)
