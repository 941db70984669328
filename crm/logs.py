"""Logs an operator can ship anywhere: a request id on every line, no secret, no whole number.

With ``DJANGO_ENV=production`` every line is one JSON object (``JsonFormatter``); in
development the same records print as text. Either way :class:`MaskingFilter` runs on the
handler, so whatever a module logs (a message, its arguments, an exception's text, an
``extra`` field) has phone numbers masked to ``+1678***8212`` and secrets replaced before
any formatter sees it. The rules are in ``docs/operations.md``.
"""

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

request_id_var: ContextVar[str] = ContextVar("request_id", default="")

access_logger = logging.getLogger("switchboard.request")

# A number as people and Twilio write it: E.164 (with separators or not), a NANP number
# with its usual punctuation (or a query string's "+" for a space), or a bare run of 10-15
# digits. Digits inside a word (a CallSid, a hash) are not numbers; a date (4-2-2 digits)
# is not NANP-shaped.
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d(?:[\s().-]{0,2}\d){6,14}"
    r"|\(?\d{3}\)?[\s.+-]{0,2}\d{3}[\s.+-]?\d{4}"
    r"|\d{10,15}"
    r")(?![\w])"
)
# 'password=abc', '"auth_token": "abc"', 'Authorization: Token abc', ...
_SECRET_PAIR = re.compile(
    r"(?i)\b(authorization|token|password|passwd|secret|api[_-]?key|auth[_-]?token|"
    r"sessionid|csrftoken|x-twilio-signature|signature)(['\"]?\s*[:=]\s*['\"]?)"
    r"((?:token|bearer|basic)\s+)?([^\s'\",;&]+)"
)
# A credential written after its scheme anywhere ("Token 9944b09..."): long, so that
# prose such as "token missing" stays readable.
_CREDENTIAL = re.compile(r"(?i)\b(token|bearer|basic)\s+[A-Za-z0-9._~+/=-]{20,}")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# What every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
}
SECRET_SETTINGS = ("SECRET_KEY", "TWILIO_AUTH_TOKEN", "REPUTATION_FEED_TOKEN")


def mask_number(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    # Keep the country code and area code and the last four: enough to tell calls apart
    # when reading logs, never enough to dial.
    head = min(4, max(0, len(digits) - 7))
    prefix = "+" if text.startswith("+") else ""
    return f"{prefix}{digits[:head]}***{digits[-4:]}"


def _secret_values() -> list[str]:
    values = [str(getattr(settings, name, "") or "") for name in SECRET_SETTINGS]
    # Short values would mask ordinary words; real secrets are long.
    return [value for value in values if len(value) >= 8]


# A percent-escape: a path or query string as Django prints a request (``%2B1678...``,
# ``%28678%29%20...``), or a URL in a client library's error.
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def mask(text: str) -> str:
    """``text`` with every phone number masked and every secret replaced by ``[redacted]``.

    Percent-escapes are decoded first: a number written into a URL is still a number, and
    the line reads as the request was meant. Anyone logging text that may hold a number
    (a vendor's error, a URL) calls this before storing or logging it.
    """
    if _PERCENT_ESCAPE.search(text):
        text = unquote(text, errors="replace")
    for value in _secret_values():
        text = text.replace(value, "[redacted]")
    text = _SECRET_PAIR.sub(lambda m: f"{m[1]}{m[2]}{m[3] or ''}[redacted]", text)
    text = _CREDENTIAL.sub(lambda m: f"{m[1]} [redacted]", text)
    return _PHONE.sub(mask_number, text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(v) for v in value]
    return mask(str(value))


class MaskingFilter(logging.Filter):
    """Masks numbers and secrets in a record (message, arguments, exception, extras).

    Installed on the handler, so it sees the records of every logger (Django's, Celery's,
    ours) and runs once before any formatter. It also stamps the request id.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.__dict__.get(PREMASKED):
            # An access line: built from values already masked or known to hold no number
            # (crm.logs.RequestLogMiddleware), so the regexes are not run over it again.
            return True
        record.msg = mask(record.getMessage())
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = mask(formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        if not getattr(record, "request_id", ""):
            # django.request logs a 5xx after the middleware chain has returned: the id
            # is then on the request it passes along.
            request = getattr(record, "request", None)
            record.request_id = request_id_var.get() or getattr(request, "request_id", None) or "-"
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, _mask_value(value))
        # The JSON formatter need not run the regexes over it a second time.
        record.__dict__[PREMASKED] = True
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, request id, then extras."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", ["asctime", "levelname", "name", "message", "request_id"])
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        kwargs.setdefault("datefmt", "%Y-%m-%dT%H:%M:%S%z")
        super().__init__(*args, **kwargs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        if record.__dict__.get(PREMASKED):
            log_data[PREMASKED] = True

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        if log_data.pop(PREMASKED, False):
            return log_data
        # Extras that are objects (a request, a model) are logged by their text, masked too.
        return {key: _mask_value(value) for key, value in log_data.items()}


def _request_id(request: HttpRequest) -> str:
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")
    # A proxy's id is kept so one request can be followed across services; anything that
    # is not a plain token (a log-injection attempt, a huge header) is replaced.
    return incoming if incoming and _REQUEST_ID.match(incoming) else uuid.uuid4().hex


class RequestLogMiddleware:
    """Gives each request an id (``X-Request-ID`` in and out) and logs one line when it ends.

    The line names the route pattern (``/api/campaigns/<int:campaign_id>/...``), never the
    raw path with its numbers, and for Twilio webhooks the CallSid or MessageSid. It runs
    on every request, webhooks included, so it is written to cost microseconds: nothing
    is built when the line would not be written, and the line is made of values masked
    here once (:data:`PREMASKED`) instead of by the handler's regexes after.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _request_id(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response.headers["X-Request-ID"] = request_id
            level = access_level(request, response.status_code)
            if access_logger.isEnabledFor(level):
                fields = _access_fields(request, response.status_code, started)
                fields["request_id"] = request_id
                access_logger.log(
                    level,
                    "%s %s %s",
                    fields["method"],
                    fields["route"],
                    fields["status"],
                    extra=fields,
                )
            return response
        finally:
            request_id_var.reset(token)


def access_level(request: HttpRequest, status: int) -> int:
    """The access line's level: a refusal is a WARNING and a failure an ERROR, as Django
    logs them, so this one line per request is all a 4xx writes (Django's own warning is
    off: ``LOGGING`` in crm/settings.py). Probes arrive every few seconds: while they
    pass, their lines are DEBUG, not noise at INFO; a failing one is a WARNING (its check
    has logged why), not an ERROR every few seconds."""
    probe = hasattr(request, "log_route")
    if status >= 500 and not probe:
        return logging.ERROR
    if status >= 400:
        return logging.WARNING
    return logging.DEBUG if probe else logging.INFO


# What the access line calls a method: one of these as sent, anything else masked.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Twilio SIDs: two letters and 32 hex digits; anything else is masked before it is logged.
_TWILIO_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
# Set on a record whose message and extras are already masked (the access line).
PREMASKED = "_premasked"


def _route(request: HttpRequest) -> str:
    if hasattr(request, "log_route"):
        return str(request.log_route)
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        # Answered before URL resolution (an HTTPS redirect, a 404): the path, masked.
        return mask(request.path)
    # A pattern of our URLconf (``<int:pk>``, never the value): no number to mask.
    return "/" + match.route.lstrip("^").rstrip("$")


def _access_fields(request: HttpRequest, status: int, started: float) -> dict[str, Any]:
    method = request.method or ""
    fields: dict[str, Any] = {
        "method": method if method in _METHODS else mask(method),
        "route": _route(request),
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        PREMASKED: True,
    }
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        fields["user_id"] = user.pk
    # The SIDs are not personal data. Only a form the view parsed is read: a body Django
    # refused (not UTF-8, too big) would raise here again and lose the access line.
    parsed = getattr(request, "_post", None)
    if parsed is not None and request.method == "POST" and request.path.startswith("/webhooks/"):
        for param, key in (("CallSid", "call_sid"), ("MessageSid", "message_sid")):
            value = parsed.get(param)
            if value:
                value = str(value)[:64]
                fields[key] = value if _TWILIO_SID.match(value) else mask(value)
    return fields
