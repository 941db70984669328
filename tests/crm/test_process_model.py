"""The production process model: queues, routes, Procfile.prod, gunicorn, beat safety."""

import os
import runpy
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection

from crm.celery import app
from crm.db import LockNamespace
from telephony import retention
from telephony.models import RetentionRun

ROOT = Path(__file__).resolve().parents[2]


def _queue(task_name: str) -> str:
    route = app.amqp.router.route({}, task_name)
    return route["queue"].name


APPS = ("crm", "telephony", "reputation", "campaigns")


def _registered_tasks() -> list[str]:
    """Every task the four apps register, as a worker would find them."""
    app.loader.import_default_modules()
    return sorted(name for name in app.tasks if name.split(".")[0] in APPS)


def test_every_registered_task_of_the_four_apps_is_listed_with_its_queue():
    registered = _registered_tasks()
    assert {name.split(".")[0] for name in registered} == set(APPS)
    listed = django_settings.TASK_QUEUES
    assert [name for name in registered if name not in listed] == [], "add it to TASK_QUEUES"
    assert [name for name in listed if name not in registered] == [], "a stale TASK_QUEUES line"
    for name in registered:
        assert _queue(name) == listed[name], name


def test_long_work_goes_to_the_long_queue():
    assert _queue("campaigns.tasks.lead_upload_import") == "long"
    assert _queue("telephony.tasks.backfill_run") == "long"
    assert _queue("reputation.tasks.daily_check_run") == "long"
    assert _queue("telephony.tasks.caller_number_identify") == "default"


def test_every_task_has_a_queue_a_production_worker_consumes():
    procfile = (ROOT / "Procfile.prod").read_text()
    consumed = set()
    for line in procfile.splitlines():
        if " worker " in line and "--queues" in line:
            consumed |= set(line.split("--queues ", 1)[1].split()[0].split(","))
    assert consumed == {q.name for q in django_settings.CELERY_TASK_QUEUES}
    for name in _registered_tasks():
        assert _queue(name) in consumed, name


def test_a_worker_without_queues_consumes_both(db):
    # make run's single worker (and the tests' worker) takes every queue.
    assert set(app.amqp.queues) == {"default", "long"}


def test_procfile_prod_has_the_release_step_one_beat_and_gunicorn():
    processes = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile.prod").read_text().splitlines() if line
    )
    assert "migrate --noinput" in processes["release"]
    assert "collectstatic --noinput" in processes["release"]
    assert processes["web"].startswith("gunicorn --config gunicorn.conf.py")
    assert "DatabaseScheduler" in processes["beat"]
    assert sum("beat" in cmd for cmd in processes.values()) == 1


def test_make_run_serves_on_port(tmp_path):
    assert "runserver 127.0.0.1:$PORT" in (ROOT / "Procfile").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "honcho start -f Procfile -p $(PORT)" in makefile
    assert "PORT ?= 8000" in makefile


def test_gunicorn_reads_port_and_web_concurrency(monkeypatch):
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["bind"].endswith(":9123")
    assert config["workers"] == 3
    assert config["wsgi_app"] == "crm.wsgi:application"
    assert config["accesslog"] is None  # the app logs requests itself, masked


def test_gunicorn_logs_json_in_production(monkeypatch):
    monkeypatch.setenv("DJANGO_ENV", "production")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    formatter = config["logconfig_dict"]["formatters"]["json"]["()"]
    assert formatter == "crm.logs.JsonFormatter"
    assert os.environ["DJANGO_ENV"] == "production"


def test_the_beat_schedule_uses_the_database_scheduler():
    assert django_settings.CELERY_BEAT_SCHEDULER.endswith("DatabaseScheduler")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_second_retention_run_while_one_is_going_does_nothing(on_postgresql):
    # A second beat fires the same task: the run it starts finds the lock taken.
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, 0)", [int(LockNamespace.RETENTION_RUN)])
        assert retention.retention_run() is None
        assert not RetentionRun.objects.exists()
        # Released (as the first run's end would): the next fire runs.
        other.execute("SELECT pg_advisory_unlock(%s, 0)", [int(LockNamespace.RETENTION_RUN)])
    assert retention.retention_run() is not None
    assert RetentionRun.objects.count() == 1


def test_seed_demo_prints_the_address_served(role_groups, tmp_path, settings):
    from io import StringIO

    from django.core.management import call_command

    settings.VAR_DIR = tmp_path
    settings.PORT = 8123
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Log in at http://127.0.0.1:8123/admin/ as:" in out.getvalue()
    assert "http://127.0.0.1:8123/campaigns/login/" in out.getvalue()
    assert ":8000" not in out.getvalue()
