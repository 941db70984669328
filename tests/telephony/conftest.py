import pytest
from twilio.request_validator import RequestValidator

TOKEN = "test-auth-token-0123456789abcdef"
OUR_NUMBER = "+18005550100"


@pytest.fixture
def twilio_token(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_WEBHOOK_BASE_URL = ""
    return TOKEN


def sign(url: str, params: dict, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


@pytest.fixture
def twilio_post(client, twilio_token):
    """POST like Twilio: form-encoded, signed over the full URL and the parameters."""

    def post(path: str, params: dict, *, signature: str | None = None, **extra):
        if signature is None:
            signature = sign(f"http://testserver{path}", params)
        return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature, **extra)

    return post


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
