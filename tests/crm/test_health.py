"""/healthz and /readyz: what load balancers and orchestrators probe (crm/health.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from crm import health

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_migration_check():
    health.reset_migration_cache()
    yield
    health.reset_migration_cache()


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: any query here would fail the test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ok_when_database_broker_and_migrations_are(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "broker": "ok", "migrations": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_readyz_caches_the_migration_check_once_it_passed(client, django_assert_max_num_queries):
    assert client.get("/readyz").status_code == 200
    # Later probes: one SELECT 1, no migration graph, no writes.
    with django_assert_max_num_queries(1):
        assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_probes_need_no_login_no_allowed_host_and_no_https(client, settings):
    settings.ALLOWED_HOSTS = ["crm.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    # A load balancer probes the instance by its address over plain HTTP.
    assert client.get("/healthz", HTTP_HOST="10.0.0.7").status_code == 200
    assert client.get("/readyz/", HTTP_HOST="10.0.0.7").status_code == 200


@pytest.mark.django_db
def test_readyz_is_503_naming_an_unapplied_migration(client):
    loader = MigrationLoader(connection)
    app, name = max(k for k in loader.graph.leaf_nodes() if k[0] == "crm")
    MigrationRecorder(connection).record_unapplied(app, name)  # rolled back after the test

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["migrations"]
    assert body["checks"]["migrations"] == f"1 unapplied (crm.{name})"
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_is_503_naming_the_broker_when_it_is_unreachable(client, settings):
    broker = settings.CELERY_BROKER_URL
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens on this port
    response = client.get("/readyz")
    settings.CELERY_BROKER_URL = broker
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"].startswith("unreachable")
    assert body["checks"]["database"] == "ok"
    # With the broker back the next probe reconnects.
    assert client.get("/readyz").status_code == 200


def _probe_in_a_process(tmp_path, **env):
    """Serve one /readyz from a fresh process configured by ``env`` (its own settings)."""
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/readyz');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "SWITCHBOARD_VAR_DIR": str(tmp_path),
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_readyz_is_503_naming_the_database_when_it_is_unreachable(tmp_path):
    # A database URL on a closed port: what /readyz sees when PostgreSQL goes away.
    result, stderr = _probe_in_a_process(
        tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:9/switchboard"
    )
    assert result["status"] == 503
    assert result["body"]["failed"] == ["database"]
    assert result["body"]["checks"]["database"].startswith("unreachable (OperationalError)")
    assert result["body"]["checks"]["migrations"] == "not checked"
    # The reason is in the log, for the operator, not in the response.
    assert "readyz: database unreachable" in stderr
