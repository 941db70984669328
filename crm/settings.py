"""Switchboard settings, read from the environment (12-factor).

With nothing set, Switchboard runs on the embedded default: SQLite (WAL) and kombu's
filesystem broker under ``var/``. ``DATABASE_URL`` and ``CELERY_BROKER_URL`` switch to
PostgreSQL and Redis/RabbitMQ. ``DJANGO_ENV=production`` turns on the deploy hardening and
makes ``SECRET_KEY`` mandatory.
"""

import logging
import os
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SWITCHBOARD_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


ENVIRONMENT = os.environ.get("DJANGO_ENV", "development")
PRODUCTION = ENVIRONMENT == "production"
DEBUG = env_bool("DEBUG", default=False) and not PRODUCTION


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_ENV=production.")
    # The embedded default keeps a generated key under var/ so sessions survive restarts
    # without a secret ever living in git.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The port the web process listens on (`make run`'s runserver, `make serve`'s gunicorn).
PORT = int(os.environ.get("PORT") or "8000")

INSTALLED_APPS = [
    "crm.apps.SwitchboardAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    "django_celery_beat",
    "axes",
    "crm.apps.CrmConfig",
    "telephony.apps.TelephonyConfig",
    "reputation.apps.ReputationConfig",
    "campaigns.apps.CampaignsConfig",
]

MIDDLEWARE = [
    # First, so the request id and the access log line cover every other middleware.
    "crm.logs.RequestLogMiddleware",
    # Probes are answered here: before host checks, HTTPS redirects, sessions and auth.
    "crm.health.HealthCheckMiddleware",
    # Webhooks and token-authenticated API requests leave here for LEAN_MIDDLEWARE; pages
    # and session-authenticated API requests go on through all of the rest (crm/lanes.py).
    "crm.lanes.LaneMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads input: no NUL reaches a view or the database (docs/input.md).
    "crm.inputs.CleanInputMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the session's user read by SQL composed once (crm/auth.py).
    "crm.auth.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Pages (not webhooks or the API) show times in the reader's zone (docs/voice.md).
    "telephony.middleware.ReaderTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# The whole chain of a webhook or a token-authenticated API request after LaneMiddleware:
# HTTPS redirect and security headers, clean input, host validation and APPEND_SLASH.
# No session, CSRF, messages, auth from the session, time zone, frame options, static
# files or login lockout: nothing there is read by a signature or a token (crm/lanes.py).
LEAN_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "crm.inputs.CleanInputMiddleware",
    "django.middleware.common.CommonMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username+address is refused before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"
ASGI_APPLICATION = "crm.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
    # Rows a page repeats by the hundred (crm/templating.py says why).
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "crm.templating.environment"},
    },
]

# --- Database ---------------------------------------------------------------------------
_sqlite_path = VAR_DIR / "switchboard.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{_sqlite_path}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, its health check without a round trip on a quiet connection.
    DATABASES["default"]["ENGINE"] = "crm.backends.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions take
    # the write lock up front instead of failing with "database is locked" mid-transaction.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# API throttling counts in the cache: set CACHE_URL (e.g. redis://127.0.0.1:6379/1) when
# several web processes serve, or each process counts on its own.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "crm.cache.RedisCache", "LOCATION": CACHE_URL}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

# --- Login throttling (django-axes; docs/operations.md) -----------------------------------
# After AXES_FAILURE_LIMIT failed logins one username from one address is refused for
# AXES_COOLOFF_MINUTES, on the admin and the caller workspace logins alike. Attempts live
# in the database, so every web process sees them. Administrators unlock in the admin
# (Axes > Access attempts: delete the row) or with `manage.py axes_reset_username NAME`.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT") or "5")
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES") or "15"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "crm.lockout.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["password", "csrfmiddlewaretoken"]
# Behind N trusted proxies the client is read from X-Forwarded-For; otherwise only the
# socket's address counts (a client could write any X-Forwarded-For it likes).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT") or "0")
if TRUSTED_PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT
    AXES_IPWARE_PROXY_ORDER = "right-most"
    AXES_IPWARE_META_PRECEDENCE_ORDER: tuple[str, ...] = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

LANGUAGE_CODE = "en-us"
# One date format everywhere, the zone named with every time (crm/formats/en/formats.py).
FORMAT_MODULE_PATH = ["crm.formats"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
# English only: the translation machinery would cost ~10% of every admin page for nothing.
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Only production collects static files; elsewhere WhiteNoise serves them from the finders.
STATIC_ROOT = BASE_DIR / "staticfiles" if PRODUCTION else None
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "media")},
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"
# Large lead files stream to disk instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Phones ---------------------------------------------------------------------------
PHONENUMBER_DEFAULT_REGION = os.environ.get("PHONENUMBER_DEFAULT_REGION", "US")
PHONENUMBER_DB_FORMAT = "E164"
PHONENUMBER_DEFAULT_FORMAT = "E164"

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "crm.tokens.HashedTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["crm.permissions.DjangoModelPermissionsWithView"],
    # The parsers clean what DRF parses itself, as the middleware does for forms.
    "DEFAULT_PARSER_CLASSES": [
        "crm.inputs.JSONParser",
        "crm.inputs.FormParser",
        "crm.inputs.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "crm.api_schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "crm.pagination.NewestFirstCursorPagination",
    "PAGE_SIZE": 50,
    # Per user (a token is a user's): a leaked or runaway token cannot flood the API.
    # Anonymous requests only reach the schema and docs, and the 401 of everything else.
    # DRF's, counted in one Redis round trip when the cache is Redis (crm/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "crm.throttling.UserRateThrottle",
        "crm.throttling.AnonRateThrottle",
    ],
    # The client an anonymous request is counted against: the socket's address, or behind
    # TRUSTED_PROXY_COUNT proxies the address they saw. Left unset, DRF would key on the
    # whole X-Forwarded-For, which a client writes as it likes (one new key per request).
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_THROTTLE_RATES": {
        "user": os.environ.get("API_THROTTLE_RATE") or "1200/minute",
        "anon": os.environ.get("API_ANON_THROTTLE_RATE") or "60/minute",
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": "Customers, calls and campaigns of the Switchboard CRM.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status"; each choice set gets a stable, readable name.
    "ENUM_NAME_OVERRIDES": {
        "CallStatusEnum": "telephony.models.Call.Status",
        "MessageStatusEnum": "telephony.models.Message.Status",
        "CampaignPhoneStatusEnum": "campaigns.models.Status",
        "LeadUploadStatusEnum": "campaigns.models.LeadUpload.State",
        "MergeFieldSourceEnum": "crm.services.MERGE_SOURCES",
    },
}

# --- Celery -------------------------------------------------------------------------------
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    (_broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # kombu's default is ./control, in whatever directory a process was started from.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Redis redelivers unacked late-ack tasks after this many seconds: longer than any task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Two queues so that long work never delays short work: production runs a worker per
# queue (Procfile.prod); a worker started without -Q consumes both (make run, tests).
# Every task is listed here by name with its queue (docs/operations.md): a new task
# without a line fails tests/crm/test_process_model.py instead of landing on a guess.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("default"), Queue("long"))
TASK_QUEUES = {
    # Long: work that can run for minutes.
    "campaigns.tasks.do_not_call_import": "long",
    "campaigns.tasks.lead_upload_import": "long",
    "campaigns.tasks.lead_zones_fill": "long",
    "crm.tasks.match_suggestions_refresh": "long",
    "reputation.tasks.daily_check_run": "long",
    "telephony.tasks.backfill_resume_stalled": "long",
    "telephony.tasks.backfill_run": "long",
    "telephony.tasks.retention_run": "long",
    # Default: what a person or a caller is waiting for.
    "reputation.tasks.auto_replace_now": "default",
    "reputation.tasks.numbers_prescreen": "default",
    "telephony.tasks.caller_number_identify": "default",
    "telephony.tasks.caller_numbers_identify": "default",
    "telephony.tasks.new_callers_sweep": "default",
    "telephony.tasks.message_send_retry": "default",
}
CELERY_TASK_ROUTES = {name: {"queue": queue} for name, queue in TASK_QUEUES.items()}
# Schedules live in code; django-celery-beat's DatabaseScheduler syncs them into the
# database at start so admins can see (and pause) them in the admin.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "crm-match-suggestions-nightly": {
        "task": "crm.tasks.match_suggestions_refresh",
        "schedule": crontab(hour=2, minute=30),
    },
    "telephony-retention-daily": {
        "task": "telephony.tasks.retention_run",
        "schedule": crontab(hour=3, minute=17),
    },
    # A backfill whose worker died (no heartbeat for a while) is started again from its
    # cursor (docs/identification.md).
    "telephony-backfill-resume-stalled": {
        "task": "telephony.tasks.backfill_resume_stalled",
        "schedule": crontab(minute="*/5"),
    },
    # A new caller's lookup waits in its web process for milliseconds before the publish;
    # one lost there (a killed process, a broker outage) is found in the rows and queued.
    "telephony-new-callers-sweep": {
        "task": "telephony.tasks.new_callers_sweep",
        "schedule": crontab(minute="*/5"),
    },
    # Checks once per calendar day whatever the beat does: the later fires only finish
    # what an interrupted run left (docs/reputation.md).
    "reputation-daily-check": {
        "task": "reputation.tasks.daily_check_run",
        "schedule": crontab(hour="6,12,18", minute=5),
    },
}

# --- Telephony and providers -----------------------------------------------------------
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
# The public base URL Twilio calls (e.g. https://crm.example.com) when a proxy rewrites the
# host or scheme; webhook signatures are computed over the URL as Twilio saw it.
TWILIO_WEBHOOK_BASE_URL = os.environ.get("TWILIO_WEBHOOK_BASE_URL", "")
# Base URLs are settings so the adapters can be tested against a loopback server.
TWILIO_API_BASE_URL = os.environ.get("TWILIO_API_BASE_URL", "https://api.twilio.com")
TWILIO_LOOKUP_BASE_URL = os.environ.get("TWILIO_LOOKUP_BASE_URL", "https://lookups.twilio.com")
LINE_TYPE_PROVIDER = os.environ.get(
    "LINE_TYPE_PROVIDER", "telephony.providers.offline.OfflineLineTypeProvider"
)
REPUTATION_PROVIDER = os.environ.get(
    "REPUTATION_PROVIDER", "reputation.providers.sandbox.SandboxReputationProvider"
)
NUMBER_INVENTORY_PROVIDER = os.environ.get(
    "NUMBER_INVENTORY_PROVIDER", "telephony.providers.sandbox.SandboxNumberInventoryProvider"
)
# SMS replies (docs/messaging.md): the offline default stores what it is given, sends nothing.
MESSAGING_PROVIDER = os.environ.get(
    "MESSAGING_PROVIDER", "telephony.providers.offline.OfflineMessagingProvider"
)
# Click-to-call (docs/dialing.md): rings the caller's own phone, then dials the lead.
VOICE_PROVIDER = os.environ.get(
    "VOICE_PROVIDER", "telephony.providers.offline.OfflineVoiceProvider"
)
# The optional browser softphone (docs/dialing.md, "Call in browser"): an API key (SID and
# secret) signs the access tokens and a TwiML App points Twilio at
# /webhooks/twilio/voice/softphone/. Offered only when all three are set and the voice
# provider places calls through Twilio.
TWILIO_API_KEY_SID = os.environ.get("TWILIO_API_KEY_SID", "")
TWILIO_API_KEY_SECRET = os.environ.get("TWILIO_API_KEY_SECRET", "")
TWILIO_TWIML_APP_SID = os.environ.get("TWILIO_TWIML_APP_SID", "")
SOFTPHONE_TOKEN_TTL_SECONDS = int(os.environ.get("SOFTPHONE_TOKEN_TTL_SECONDS", "3600"))
# Calls one owned number may place in the team's day before caller-ID choice passes it by.
CALLER_ID_DAILY_CALL_LIMIT = int(os.environ.get("CALLER_ID_DAILY_CALL_LIMIT", "100"))
REPUTATION_FEED_URL = os.environ.get("REPUTATION_FEED_URL", "")
REPUTATION_FEED_TOKEN = os.environ.get("REPUTATION_FEED_TOKEN", "")
TELNYX_API_BASE_URL = os.environ.get("TELNYX_API_BASE_URL", "https://api.telnyx.com/v2")
TELNYX_API_KEY = os.environ.get("TELNYX_API_KEY", "")
TELNYX_ENTERPRISE_ID = os.environ.get("TELNYX_ENTERPRISE_ID", "")
# Reputation requests in flight during the daily check (each carries up to 100 numbers).
REPUTATION_CHECK_CONCURRENCY = int(os.environ.get("REPUTATION_CHECK_CONCURRENCY", "4"))
REPUTATION_SANDBOX_FLAGGED = env_list("REPUTATION_SANDBOX_FLAGGED")
SANDBOX_INVENTORY_EMPTY_AREA_CODES = env_list("SANDBOX_INVENTORY_EMPTY_AREA_CODES")
PROVIDER_TIMEOUT_SECONDS = float(os.environ.get("PROVIDER_TIMEOUT_SECONDS", "10"))
# Mobile identification (docs/identification.md). USD per line-type lookup, recorded with
# each one; Twilio publishes its Lookup price on its pricing page.
LINE_TYPE_LOOKUP_PRICE = Decimal(os.environ.get("LINE_TYPE_LOOKUP_PRICE", "0.008"))
# Lookups one backfill keeps in flight, sent but not yet in the ledger: what a killed
# worker may pay for twice (identify_mobile_numbers --concurrency overrides).
LINE_TYPE_LOOKUP_CONCURRENCY = int(os.environ.get("LINE_TYPE_LOOKUP_CONCURRENCY", "20"))
# Of those, how many may wait on the provider at once (empty: all of them). Set it to the
# provider's concurrent-request limit per backfill worker, and the concurrency a little
# above it, so the provider is kept busy while answers are committed to the ledger.
LINE_TYPE_PROVIDER_CONCURRENCY = int(os.environ.get("LINE_TYPE_PROVIDER_CONCURRENCY") or 0)
# Lookups per second across every worker and process: one limit, kept in Redis.
LINE_TYPE_LOOKUP_RATE = float(os.environ.get("LINE_TYPE_LOOKUP_RATE", "100"))
# Where that shared limit lives: the Celery broker when it is Redis. Without Redis (the
# embedded default: one worker) each process keeps the limit itself.
LOOKUP_RATE_LIMIT_REDIS_URL = os.environ.get("LOOKUP_RATE_LIMIT_REDIS_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)

# --- Security ---------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, read with SQL composed once (crm/sessions.py).
SESSION_ENGINE = "crm.sessions"
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    # Off only to try production settings over plain HTTP on one machine (`make serve`).
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Production logs one JSON object per line; both formats mask phone numbers and secrets
# (crm/logs.py, docs/operations.md). LOG_LEVEL sets the root level.
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("json" if PRODUCTION else "text")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()


def _at_least(level: str) -> str:
    """``level``, or LOG_LEVEL where that is stricter: LOG_LEVEL=ERROR silences the access
    lines and Django's request warnings too, not only what logs to the root."""
    return max(level, LOG_LEVEL, key=lambda name: logging.getLevelName(name))


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask": {"()": "crm.logs.MaskingFilter"}},
    "formatters": {
        "json": {"()": "crm.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["mask"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django sets its own logger to INFO; records propagate to the root's handler.
        "django": {"level": LOG_LEVEL},
        # A 4xx is already the access line's WARNING (crm.logs.access_level): Django's
        # second line for it ("Forbidden: /webhooks/...") cost a refused webhook a sixth of
        # its CPU (docs/profiles/webhooks.md). Its 5xx lines carry the traceback: kept.
        "django.request": {"level": _at_least("ERROR")},
        "django.db.backends": {"level": _at_least("INFO")},
        # axes logs every start and login at INFO; its failures and lockouts are WARNINGs.
        "axes": {"level": _at_least("WARNING")},
        # The access line (crm.logs.RequestLogMiddleware); in development runserver prints
        # its own request lines already.
        "switchboard.request": {"level": _at_least("INFO" if LOG_FORMAT == "json" else "WARNING")},
    },
}
if LOG_FORMAT == "json":
    # Python warnings too become JSON lines instead of bare text on stderr.
    logging.captureWarnings(True)
# Workers log through the same handler (masking, JSON) instead of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = not PRODUCTION
