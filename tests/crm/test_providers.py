"""The provider loader and its start-up check (crm/providers.py)."""

import pytest
from django.core.checks import run_checks

from crm import providers


class FakeProvider:
    built = 0

    def __init__(self) -> None:
        FakeProvider.built += 1


class OtherProvider:
    pass


@pytest.fixture
def registered(settings):
    providers.register_provider_setting("TEST_FAKE_PROVIDER", check_id="crm.E901", what="tests")
    settings.TEST_FAKE_PROVIDER = "tests.crm.test_providers.FakeProvider"
    providers.clear_providers()
    yield settings
    providers._registry.pop("TEST_FAKE_PROVIDER", None)
    providers.clear_providers()


def test_a_provider_is_built_once_per_process_and_again_when_the_setting_changes(registered):
    FakeProvider.built = 0
    first = providers.get_provider("TEST_FAKE_PROVIDER")
    assert providers.get_provider("TEST_FAKE_PROVIDER") is first
    assert FakeProvider.built == 1
    registered.TEST_FAKE_PROVIDER = "tests.crm.test_providers.OtherProvider"
    assert isinstance(providers.get_provider("TEST_FAKE_PROVIDER"), OtherProvider)


def test_a_path_that_does_not_import_fails_the_start_up_check_with_its_id(registered):
    assert not [e for e in run_checks() if e.id == "crm.E901"]
    registered.TEST_FAKE_PROVIDER = "tests.crm.test_providers.NoSuchProvider"
    errors = [e for e in run_checks() if e.id == "crm.E901"]
    assert len(errors) == 1
    assert "does not import" in errors[0].msg
    registered.TEST_FAKE_PROVIDER = ""
    assert "is not set" in next(e for e in run_checks() if e.id == "crm.E901").msg
