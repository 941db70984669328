"""``{% load phones %}``: numbers shown one way on every page (see crm/phones.py)."""

from django import template
from django.utils.safestring import SafeString

from crm.phones import display_number, phone_link

register = template.Library()


@register.filter(name="phone")
def phone(value: object) -> SafeString:
    """``{{ number|phone }}``: a ``tel:`` link in the display form, E.164 on hover."""
    return phone_link(str(value or ""))


@register.filter(name="phone_text")
def phone_text(value: object) -> str:
    """``{{ number|phone_text }}``: the display form alone (inside a link or a label)."""
    return display_number(str(value or ""))
