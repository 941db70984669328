"""The Jinja2 environment for the few fragments a page repeats by the hundred.

Django's template language renders a workspace row (five forms, two numbers) in about
half a millisecond; a page of 50 leads spent most of its time there
(docs/profiles/workspace.md). Jinja2 compiles a template to Python, so the rows are
rendered from ``templates/jinja2/`` through this environment and the page around them
stays a Django template. The filters below give the fragments what the Django
templates they replace relied on: numbers shown as ``{% load phones %}`` shows them, and
datetimes in the reader's zone, formatted as Django formats them.
"""

from datetime import datetime
from typing import Any

from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import formats
from django.utils.timesince import timesince
from django.utils.timezone import is_aware, localtime
from jinja2 import Environment

from crm.templatetags.phones import phone, phone_text


def _local(value: datetime) -> datetime:
    """In the reader's zone, as a Django template converts an aware datetime it prints."""
    return localtime(value) if is_aware(value) else value


def _url(name: str, *args: Any) -> str:
    return reverse(name, args=args)


def _localized(value: datetime | None) -> str:
    """``{{ when }}`` as a Django template prints it: the reader's zone, the locale's format."""
    if value is None:
        return ""
    return str(formats.localize(_local(value)))


def _date(value: datetime | None, fmt: str) -> str:
    """``{{ when|date:"…" }}``: Django's ``date`` filter, in the reader's zone."""
    return date_filter(_local(value), fmt) if value is not None else ""


def _timesince(value: datetime | None) -> str:
    return timesince(value) if value is not None else ""


def environment(**options: Any) -> Environment:
    # Django's backend asks for escaping too; these fragments never render without it.
    options.pop("autoescape", None)
    env = Environment(autoescape=True, **options)
    env.globals["url"] = _url
    env.filters.update(
        # The same filters as the Django templates' {% load phones %}.
        phone=phone,
        phone_text=phone_text,
        localized=_localized,
        date=_date,
        timesince=_timesince,
    )
    return env
