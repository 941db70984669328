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
