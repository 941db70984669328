import os

import pytest
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from crm import roles
from crm.db import is_postgresql
from tests import databases


def _one_broker_per_worker() -> None:
    """Under pytest-xdist each worker gets a test database of its own (pytest-django adds
    its id to the name), and here a broker of its own, so one worker's purge, queued tasks
    or lookup-rate schedule never reach another's: on Redis worker n uses the configured
    database number minus n (15, 14, ... for the Makefile's 15); kombu's filesystem broker
    gets folders of the worker's own."""
    from urllib.parse import urlsplit, urlunsplit

    from django.conf import settings

    from crm.celery import app

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url = settings.CELERY_BROKER_URL
    if not worker.startswith("gw"):
        return
    if url.startswith("filesystem://"):
        folders = settings.VAR_DIR / f"broker-{worker}"
        options = {
            "data_folder_in": str(folders / "queue"),
            "data_folder_out": str(folders / "queue"),
            "processed_folder": str(folders / "processed"),
            "control_folder": str(folders / "control"),
            "store_processed": False,
            # A test's worker takes a message within 0.1 s, not kombu's 1 s.
            "polling_interval": 0.1,
        }
        for folder in ("queue", "processed", "control"):
            (folders / folder).mkdir(parents=True, exist_ok=True)
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
        app.conf.broker_transport_options = options
        return
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) - int(worker[2:])
    if database < 0:
        raise pytest.UsageError(f"{url}: too few Redis databases below it for worker {worker}")
    own = urlunsplit(parts._replace(path=f"/{database}"))
    if settings.LOOKUP_RATE_LIMIT_REDIS_URL == url:
        settings.LOOKUP_RATE_LIMIT_REDIS_URL = own
    settings.CELERY_BROKER_URL = own
    os.environ["CELERY_BROKER_URL"] = own  # the worker processes some tests start
    app.conf.broker_url = own


_one_broker_per_worker()


def _fast_passwords() -> None:
    """Users made by the suite get a one-iteration hash (tests/hashers.py); hashes made
    elsewhere still check with the stock hashers behind it."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = [
        "tests.hashers.OneIterationPBKDF2PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


_fast_passwords()


def _static_files_found_per_request() -> None:
    """WhiteNoise finds a static file when it is asked for, as under `make run` (DEBUG),
    instead of indexing every static file when its middleware is made: the test client
    makes the middleware again for each test, and the index took 19 s of a profiled 165 s
    run (docs/testing.md). Production indexes its collected files once per process."""
    from django.conf import settings

    settings.WHITENOISE_AUTOREFRESH = True


_static_files_found_per_request()
databases.flush_lightly()


def pytest_runtest_logreport(report):
    # Counted here, in the root conftest, so that the pytest-xdist controller counts too.
    if report.when == "call" and "test_openapi_fuzz" in report.nodeid:
        from tests.api import tally

        tally.operations += 1
        tally.failed_operations += report.failed


def pytest_sessionfinish(session):
    # A pytest-xdist worker sends back how many requests schemathesis made; the controller
    # counts the operations itself, from the test reports the workers forward to it.
    from tests.api import tally

    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["schemathesis_requests"] = tally.requests


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    from tests.api import tally

    tally.requests += getattr(node, "workeroutput", {}).get("schemathesis_requests", 0)


def pytest_terminal_summary(terminalreporter):
    from tests.api import tally

    if tally.requests:
        terminalreporter.write_line(tally.summary())


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_use_migrations,
    django_db_keepdb,
    django_db_createdb,
    django_db_modify_db_settings,
    tmp_path_factory,
):
    """pytest-django's own setup, except that pytest-xdist workers copy one migrated
    database instead of each migrating its own (tests/databases.py)."""
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _disable_migrations

    verbosity = request.config.option.verbose
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not django_db_use_migrations:
        _disable_migrations()
    keepdb = django_db_keepdb and not django_db_createdb
    with django_db_blocker.unblock():
        # --reuse-db keeps each worker's PostgreSQL database; SQLite's are in memory and
        # made again every run whatever it says.
        if (
            worker.startswith("gw")
            and django_db_use_migrations
            and (not keepdb or not is_postgresql())
        ):
            # The run's folder: every worker's base temporary folder is inside it.
            folder = tmp_path_factory.getbasetemp().parent
            old_config = databases.setup_worker_database(folder, worker, verbosity)
        else:
            old_config = setup_databases(verbosity=verbosity, interactive=False, keepdb=keepdb)
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(old_config, verbosity=verbosity)


DATABASE_FREE_REASON = "database-free: runs once, in the SQLite run"
BROWSER_ONCE_REASON = "browser test: runs once, in the PostgreSQL run"
DATABASE_FIXTURES = frozenset(
    ("db", "transactional_db", "live_server", "django_db_serialized_rollback")
)


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests skip on SQLite; database-free tests skip on PostgreSQL; browser
    tests skip on SQLite.

    A database-free test (pure code: a parser, a provider adapter against a loopback
    server) would only repeat itself in the second run, so it runs in the SQLite one, the
    embedded default. It cannot reach a database: pytest-django refuses any query from a
    test that asks for none, and one that asks for one is refused here. A browser test
    adds what only a browser shows (scripts, layout at both widths, whole flows) over views
    the test client already drives on both databases, so it runs once too, on PostgreSQL,
    production's database: on SQLite they spent over a quarter of the suite's CPU in
    Chromium. .ci/run fails the build on any other skip.
    """
    for item in items:
        if "database_free" in item.keywords and (
            item.get_closest_marker("django_db") or DATABASE_FIXTURES & set(item.fixturenames)
        ):
            raise pytest.UsageError(f"{item.nodeid} is marked database_free but uses the database")
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        skips = {"database_free": pytest.mark.skip(reason=DATABASE_FREE_REASON)}
    else:
        skips = {
            "postgresql": pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)"),
            "e2e": pytest.mark.skip(reason=BROWSER_ONCE_REASON),
        }
    for item in items:
        for marker, skip in skips.items():
            if marker in item.keywords:
                item.add_marker(skip)
                break


@pytest.fixture(autouse=True)
def fresh_settings_cache():
    # Each test's database starts over; the per-process settings cache must too.
    from crm import singletons

    singletons.clear_cache()
    yield
    singletons.clear_cache()


@pytest.fixture
def role_groups(db):
    # A flush keeps the data migration's groups (tests/databases.py); put them back if
    # something took them anyway.
    if Group.objects.filter(name__in=roles.ROLE_PERMISSIONS).count() < len(roles.ROLE_PERMISSIONS):
        roles.sync_roles(django_apps)
    return {group.name: group for group in Group.objects.filter(name__in=roles.ROLE_PERMISSIONS)}


@pytest.fixture
def make_user(role_groups):
    def make(role: str | None, username: str | None = None, **extra):
        username = username or f"{(role or 'nobody').lower()}-user"
        user = get_user_model().objects.create_user(
            username=username,
            password="pass-for-tests-1",
            is_staff=role in roles.STAFF_ROLES,
            **extra,
        )
        if role:
            user.groups.add(role_groups[role])
        return user

    return make


@pytest.fixture
def administrator(make_user):
    return make_user(roles.ADMINISTRATOR)


@pytest.fixture
def agent(make_user):
    return make_user(roles.AGENT)


@pytest.fixture
def caller(make_user):
    return make_user(roles.CALLER)


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def on_postgresql():
    assert is_postgresql(), "this test needs PostgreSQL"


@pytest.fixture
def celery_worker_thread(transactional_db):
    """A real Celery worker (in a thread) consuming from the configured broker (Redis)."""
    from celery.contrib.testing.worker import start_worker

    from crm.celery import app

    if app.conf.broker_url.startswith("filesystem://"):
        # Only tests marked postgresql run with Redis; an unmarked one must not pass silently.
        pytest.fail("a real worker needs Redis: mark the test postgresql")
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


@pytest.fixture(autouse=True)
def _fresh_cache():
    # API throttling counts requests in the cache: one test's requests never count in another's.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def scripted(settings):
    """Backfills and new-caller lookups answered by tests.telephony.fakes.ScriptedProvider."""
    from crm import providers
    from tests.telephony.fakes import ScriptedProvider

    settings.LINE_TYPE_PROVIDER = "tests.telephony.fakes.ScriptedProvider"
    settings.LINE_TYPE_LOOKUP_RATE = 100_000
    ScriptedProvider.reset()
    providers.clear_providers()
    yield ScriptedProvider
    providers.clear_providers()
    ScriptedProvider.reset()


@pytest.fixture
def eager_tasks():
    """Tasks queued on commit run there and then, in this thread."""
    from crm.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False
