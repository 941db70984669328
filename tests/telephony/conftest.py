import pytest

from tests.telephony.twilio_signing import TOKEN, sign


@pytest.fixture
def twilio_token(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_WEBHOOK_BASE_URL = ""
    return TOKEN


@pytest.fixture
def twilio_post(client, twilio_token):
    """POST like Twilio: form-encoded, signed over the full URL and the parameters."""

    def post(path: str, params: dict, *, signature: str | None = None, **extra):
        if signature is None:
            signature = sign(f"http://testserver{path}", params)
        return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature, **extra)

    return post
