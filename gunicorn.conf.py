"""gunicorn settings for production (`make serve`, Procfile.prod); see docs/operations.md.

Everything comes from the environment so one image runs anywhere: PORT, WEB_CONCURRENCY
(worker processes), WEB_THREADS, GUNICORN_TIMEOUT, and DJANGO_ENV / LOG_LEVEL for logs.
"""

import multiprocessing
import os

bind = f"{os.environ.get('WEB_BIND', '0.0.0.0')}:{os.environ.get('PORT') or '8000'}"  # noqa: S104
# A process per core plus one is gunicorn's own advice for sync workers; WEB_CONCURRENCY
# is the variable platforms (Heroku, Render, ...) set to size the web process.
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() + 1)
threads = int(os.environ.get("WEB_THREADS") or "1")
# A webhook must answer Twilio within 15 s; a request past 30 s is stuck, not slow.
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or "30")
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak never grows into an outage. Now and then:
# at 2,000 a busy worker (bench/webhooks.py, ~120 requests/s each) restarted every 17 s,
# and each restart dropped its keep-alive connections and opened new database ones while
# requests waited: p99 132 ms against 76 ms without restarts (docs/profiles/webhooks.md).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS") or "20000")
max_requests_jitter = 2000
# The app is imported once, in the master, and each worker is forked from it: a recycled
# worker starts in milliseconds instead of importing Django again (a second of CPU taken
# from the other workers' requests), and the workers share that memory. Django opens no
# database connection at import, so none is shared across the fork.
preload_app = True
wsgi_app = "crm.wsgi:application"
# The app logs each request itself (crm/logs.py: request id, route, status, duration,
# masked); gunicorn's own access log would repeat it without the masking.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
if os.environ.get("DJANGO_ENV") == "production":
    # gunicorn's own lines (boot, worker timeouts) as JSON too, one object per line.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "crm.logs.JsonFormatter"}},
        "filters": {"mask": {"()": "crm.logs.MaskingFilter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["mask"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "gunicorn.error": {
                "handlers": ["console"],
                "level": loglevel.upper(),
                "propagate": False,
            },
        },
    }
