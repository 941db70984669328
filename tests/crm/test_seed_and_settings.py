import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from crm.models import Customer, PhoneNumber
from tests.settings_read import settings_read

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_seed_demo_is_idempotent_and_realistic(role_groups, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=StringIO())
    counts = (
        Customer.objects.count(),
        PhoneNumber.objects.count(),
        get_user_model().objects.count(),
    )
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert (
        Customer.objects.count(),
        PhoneNumber.objects.count(),
        get_user_model().objects.count(),
    ) == counts
    assert "admin" in out.getvalue()
    # A shared family landline: one Home number on several profiles.
    assert PhoneNumber.objects.filter(number="+14045550142", type="home").count() >= 2
    assert set(PhoneNumber.objects.values_list("type", flat=True)) == {
        "mobile",
        "home",
        "office",
        "other",
    }
    for username, group in [("admin", "Administrator"), ("agent", "Agent"), ("caller", "Caller")]:
        assert get_user_model().objects.get(username=username).groups.filter(name=group).exists()


def test_seed_demo_bulk_customers_are_valid_and_idempotent(role_groups, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--customers", "300", "--no-users", stdout=StringIO())
    bulk = Customer.objects.filter(email__endswith="@bulk.example.com")
    assert bulk.count() == 300
    call_command("seed_demo", "--customers", "300", "--no-users", stdout=StringIO())
    assert bulk.count() == 300
    from crm.phones import normalize

    sample = PhoneNumber.objects.filter(customer__in=bulk).values_list("number", flat=True)[:200]
    assert all(normalize(str(n)) == str(n) for n in sample)
    new = Customer.objects.create(name="After bulk")  # the id sequence was moved on
    assert new.pk > max(bulk.values_list("id", flat=True))


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser tests' conftest for Playwright; it is
    # not part of any deployment (and check --deploy rightly flags it).
    unwanted = {"DEBUG", "SECRET_KEY", "DJANGO_ENV", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in unwanted}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        SECRET_KEY="x" * 64 + "-not-a-real-key-but-long-and-random-enough-1234567890",
        ALLOWED_HOSTS="crm.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    # The settings refuse at import, before any command or server could start.
    environ = {"DJANGO_ENV": "production", "ALLOWED_HOSTS": "crm.example.com"}
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        settings_read({**environ, "SWITCHBOARD_VAR_DIR": str(tmp_path)})
    environ |= {"SECRET_KEY": "k" * 64, "SWITCHBOARD_VAR_DIR": str(tmp_path)}
    assert settings_read(environ).SECRET_KEY == "k" * 64
