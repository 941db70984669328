"""The WSGI application gunicorn (gunicorn.conf.py) and runserver serve."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import URLResolver, get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

application = get_wsgi_application()


def url_maps_build(resolver: URLResolver | None = None) -> None:
    """Import every view and build the URL maps (the reverse map of each namespace)."""
    resolver = resolver or get_resolver()
    resolver.reverse_dict  # noqa: B018  (built on first read: the URLconf and its views)
    for _prefix, included in resolver.namespace_dict.values():
        url_maps_build(included)


def warm_up() -> None:
    """Load now what Django, Celery and the phone parser would load on a worker's first
    requests.

    gunicorn imports this module once, in its master, and forks each worker from it
    (``preload_app``), so what is loaded here is loaded once for them all. Left to the
    first requests, every new worker, and every one ``max_requests`` recycles, spent about
    half a second of CPU (the URLconf and reverse maps ~300 ms, Celery's task registry
    ~125 ms, the NANP patterns ~80 ms) while its first requests waited: most of the p99
    of bench/webhooks.py (docs/profiles/webhooks.md). Nothing here opens a connection, so
    none is shared across the fork.

    Then everything loaded so far (~140,000 objects that live as long as the process) is
    frozen out of the garbage collector's sight (``gc.freeze``, as Python's documentation
    advises before a fork): a full collection walked them all, ~90 ms with the worker's
    other threads waiting, and wrote to every page the workers shared with the master.
    """
    from crm import phones
    from crm.celery import app

    url_maps_build()
    app.finalize(auto=True)
    phones.patterns_build()
    gc.freeze()


warm_up()
