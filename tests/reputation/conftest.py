import itertools

import pytest

from crm import providers
from reputation.models import ReputationSettings
from telephony.models import OwnedNumber
from tests.reputation.fakes import ScriptedInventory, ScriptedReputation

_numbers = itertools.count(100)


@pytest.fixture(autouse=True)
def scripted_providers(settings):
    settings.REPUTATION_PROVIDER = "tests.reputation.fakes.ScriptedReputation"
    settings.NUMBER_INVENTORY_PROVIDER = "tests.reputation.fakes.ScriptedInventory"
    settings.REPUTATION_CHECK_CONCURRENCY = 2
    ScriptedReputation.reset()
    ScriptedInventory.reset()
    providers.clear_providers()
    yield
    providers.clear_providers()


@pytest.fixture
def addon(db):
    config = ReputationSettings.load()
    config.addon_enabled = True
    config.blocks = 1
    from reputation import services

    services.reputation_settings_save(config=config)
    return config


@pytest.fixture
def owned(db):
    def make(number: str | None = None, **extra) -> OwnedNumber:
        number = number or f"+1415555{next(_numbers):04d}"
        return OwnedNumber.objects.create(
            number=number,
            label=extra.pop("label", "Sales"),
            provider_id=extra.pop("provider_id", "PN" + number[2:]),
            **extra,
        )

    return make
