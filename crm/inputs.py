"""Input at the edge: text PostgreSQL can store, and moments that can have happened.

One rule for every entry point (docs/input.md): characters a PostgreSQL ``text`` cannot
hold (NUL, and the lone surrogates a JSON ``\\ud800`` escape makes) are dropped before any
view, form, serializer or webhook sees the input. The middleware cleans query strings,
form bodies and cookies; the API's parsers clean what DRF parses itself (JSON, forms,
multipart). Stripping rather than refusing: a Twilio webhook refused with a 4xx is a lost
call or message, and a search box gains nothing from an error about a byte nobody can see.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse, QueryDict
from django.utils import timezone
from rest_framework import parsers, serializers

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(value: str) -> str:
    """``value`` without the characters a PostgreSQL text cannot hold."""
    if "\x00" not in value and value.isascii():
        return value
    return _UNSTORABLE.sub("", value)


def clean_data(value: Any) -> Any:
    """Every string in parsed data (dicts, lists, QueryDicts) cleaned; the rest as is."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, QueryDict):
        return _clean_querydict(value)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_data(item) for item in value]
    return value


def _needs_cleaning(values: Any) -> bool:
    # Every request passes here: one scan of all the texts, and no regex at all for the
    # usual ASCII without NUL (a lone surrogate is never ASCII).
    joined = "".join(values)
    if joined.isascii() and "\x00" not in joined:
        return False
    return _UNSTORABLE.search(joined) is not None


def _clean_querydict(query: QueryDict) -> QueryDict:
    texts = list(query) + [v for _, values in query.lists() for v in values]
    if not _needs_cleaning(texts):
        return query
    cleaned = QueryDict(mutable=True, encoding=query.encoding)
    for key, values in query.lists():
        cleaned.setlist(clean_text(key), [clean_text(v) for v in values])
    cleaned._mutable = False
    return cleaned


def post_as_sent(request: HttpRequest) -> QueryDict:
    """The form body exactly as the client sent it: what a webhook signature covers."""
    return cast(QueryDict, getattr(request, "_post_as_sent", request.POST))


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CleanInputMiddleware:
    """Query strings, form bodies and cookies without unstorable characters."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # HttpRequest types GET/POST as immutable QueryDicts; the cleaned ones are too.
        request.GET = _clean_querydict(request.GET)  # type: ignore[assignment]
        if _needs_cleaning([*request.COOKIES, *request.COOKIES.values()]):
            request.COOKIES = {clean_text(k): clean_text(v) for k, v in request.COOKIES.items()}
        if request.method == "POST" and request.content_type in _FORM_TYPES:
            try:
                sent = request.POST
            except BadRequest:
                return _unreadable_form(request)
            cleaned = _clean_querydict(sent)
            if cleaned is not sent:
                request._post_as_sent = sent  # type: ignore[attr-defined]
                request.POST = cleaned  # type: ignore[assignment]
        return self.get_response(request)


def _unreadable_form(request: HttpRequest) -> HttpResponse:
    """A clear 400 for a form body Django will not decode (a charset other than UTF-8):
    the API answers JSON, everything else (a webhook, a form) plain text."""
    charset = request.content_params.get("charset", "") if request.content_params else ""
    reason = (
        "The form body must be UTF-8 encoded"
        + (f" (it said charset={charset[:40]})" if charset else "")
        + "; nothing was stored."
    )
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": reason}, status=400)
    return HttpResponseBadRequest(reason, content_type="text/plain; charset=utf-8")


class JSONParser(parsers.JSONParser):
    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return clean_data(super().parse(*args, **kwargs))


class FormParser(parsers.FormParser):
    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return clean_data(super().parse(*args, **kwargs))


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, *args: Any, **kwargs: Any) -> Any:
        result = super().parse(*args, **kwargs)
        return parsers.DataAndFiles(clean_data(result.data), result.files)


# --- Moments ----------------------------------------------------------------------------
# A call or message reported as happening before this, or more than a day from now (clock
# skew), is a mistake in the report; far-off years also overflow Python's datetime once a
# duration or a time zone is applied.
EARLIEST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


def moment_problem(value: datetime) -> str | None:
    """Why ``value`` cannot be when a call or message happened, or None when it can."""
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        return "is out of range."
    if utc < EARLIEST_MOMENT:
        return f"is before {EARLIEST_MOMENT:%Y-%m-%d}: not a time a call happened."
    if utc > timezone.now() + FUTURE_SLACK:
        return "is in the future."
    return None


class MomentField(serializers.DateTimeField):
    """A DateTimeField that answers 400, never 500, for a moment out of range.

    ``happened=True`` (the default) also refuses moments a call cannot have happened at
    (:func:`moment_problem`); filters pass ``happened=False`` and may name any year.
    """

    def __init__(self, *, happened: bool = True, **kwargs: Any) -> None:
        self.happened = happened
        super().__init__(**kwargs)

    def enforce_timezone(self, value: datetime) -> datetime:
        try:
            return super().enforce_timezone(value)
        except (OverflowError, ValueError):
            raise serializers.ValidationError("This time is out of range.") from None

    def to_internal_value(self, value: Any) -> datetime:
        moment = super().to_internal_value(value)
        problem = moment_problem(moment) if self.happened else None
        if problem:
            raise serializers.ValidationError(f"This time {problem}")
        return moment
