"""The customer page's "Campaign leads" panel: campaigns contributes it to crm's customer
admin through the extension point (campaigns/apps.py), so crm never imports campaigns."""

from typing import Any

from django.http import HttpRequest

from campaigns import selectors
from crm.models import Customer
from crm.selectors import numbers_by_customer


def customer_leads_panel(request: HttpRequest, customer: Customer) -> dict[str, Any] | None:
    if customer.merged_into_id or not request.user.has_perm("crm.view_customer"):
        return None
    numbers = [e164 for e164, _, _ in numbers_by_customer([customer.pk]).get(customer.pk, [])]
    leads = selectors.customer_leads(numbers=numbers) if numbers else []
    return {
        "leads": leads,
        "numbers": set(numbers),
        "capped": len(leads) >= selectors.CUSTOMER_LEADS_SHOWN,
        "can_open_leads": request.user.has_perm("campaigns.view_contact"),
        "can_work": request.user.has_perm(selectors.MANAGE_PERMISSION),
    }
