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


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        # Long work.
        ("campaigns.tasks.lead_upload_import", "long"),
        ("telephony.tasks.identification_backfill_run", "long"),
        ("telephony.tasks.mobile_identification_backfill", "long"),
        ("reputation.tasks.daily_check_run", "long"),
        ("reputation.tasks.reputation_daily_check", "long"),
        ("telephony.tasks.retention_run", "long"),
        ("crm.tasks.match_suggestions_refresh", "long"),
        # Short work: a new caller's lookup, a pre-screening, anything not named long.
        ("telephony.tasks.line_type_lookup", "default"),
        ("telephony.tasks.phone_number_identify", "default"),
        ("reputation.tasks.prescreen_number", "default"),
        ("campaigns.tasks.lead_upload_progress", "default"),
    ],
)
def test_tasks_are_routed_by_name(task, queue):
    assert _queue(task) == queue


def test_every_task_the_app_defines_has_a_queue_a_production_worker_consumes():
    app.loader.import_default_modules()
    procfile = (ROOT / "Procfile.prod").read_text()
    consumed = set()
    for line in procfile.splitlines():
        if " worker " in line and "--queues" in line:
            consumed |= set(line.split("--queues ", 1)[1].split()[0].split(","))
    assert consumed == {q.name for q in django_settings.CELERY_TASK_QUEUES}
    ours = [name for name in app.tasks if name.split(".")[0] in {"crm", "telephony", "campaigns"}]
    assert ours
    for name in ours:
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
