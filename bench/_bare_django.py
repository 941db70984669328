"""The bare-Django baseline of bench/webhooks.py: one view answering 403, no middleware.

Served by gunicorn with the same options as the app (``gunicorn --pythonpath bench
_bare_django:application``): what Django itself costs per request on this machine, so
the webhook floor can be read as a share of it. No database, no apps, no logging setup.
"""

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-bare-django-not-a-secret",  # noqa: S106  (a throwaway process)
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
)

import django  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden  # noqa: E402
from django.urls import path  # noqa: E402


def refuse(request: HttpRequest) -> HttpResponse:
    return HttpResponseForbidden(
        "Invalid or missing X-Twilio-Signature.", content_type="text/plain"
    )


urlpatterns = [path("webhooks/twilio/voice/", refuse)]

django.setup()
application = get_wsgi_application()
