"""Two middleware lanes: pages get every middleware, machine requests only what they use.

A signed Twilio webhook or a token-authenticated API request carries no session cookie,
renders no page and shows no message: sessions, CSRF, authentication from the session,
messages, the reader's time zone, clickjacking headers, static files and the login
lockout (django-axes) would only cost it time. :class:`LaneMiddleware` sends such
requests down a short chain (``settings.LEAN_MIDDLEWARE``) that ends in the same URL
resolution and views; everything else goes on through the rest of ``settings.MIDDLEWARE``
exactly as listed there, so the admin, the caller workspace and the session-authenticated
API keep every middleware (and CSRF: a browser sends its session cookie cross-site, never
an ``Authorization`` header).

What is lean (docs/architecture.md, "Middleware lanes"):

- ``/webhooks/...``: Twilio authenticates by signature, never by cookie.
- ``/api/...`` with ``Authorization: Token ...`` or ``Bearer ...`` and no session cookie.
  A request carrying the session cookie stays on the full lane, where DRF authenticates
  it by session first and enforces CSRF, as it always has.
"""

from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

WEBHOOK_PREFIX = "/webhooks/"
API_PREFIX = "/api/"
TOKEN_SCHEMES = ("token ", "bearer ")


def is_lean(request: HttpRequest) -> bool:
    """Whether ``request`` is a machine's: a webhook, or a token-authenticated API call."""
    path = request.path_info
    if path.startswith(WEBHOOK_PREFIX):
        return True
    if not path.startswith(API_PREFIX):
        return False
    meta = request.META
    if not meta.get("HTTP_AUTHORIZATION", "")[:7].lower().startswith(TOKEN_SCHEMES):
        return False
    # A browser's session cookie keeps the full lane (session auth and CSRF first).
    cookies = meta.get("HTTP_COOKIE", "")
    return not cookies or settings.SESSION_COOKIE_NAME not in request.COOKIES


class _LeanHandler(BaseHandler):
    """Django's request handling with its own (synchronous) middleware list.

    The same loop as ``BaseHandler.load_middleware`` on a list other than
    ``settings.MIDDLEWARE``: each middleware's ``process_view``/``process_exception``/
    ``process_template_response`` hooks run for the requests of this lane only.
    """

    def __init__(self, paths: list[str]) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(paths):
            try:
                instance = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler


class LaneMiddleware:
    """Routes machine requests to the lean chain; pages go on down ``MIDDLEWARE``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.lean = cast(
            Callable[[HttpRequest], HttpResponse],
            _LeanHandler(list(settings.LEAN_MIDDLEWARE))._middleware_chain,
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_lean(request):
            return self.lean(request)
        return self.get_response(request)
