"""The Telnyx adapter's connection error names the URL: its number is masked."""

import socket

import pytest

from reputation.providers.base import ReputationProviderError
from reputation.providers.telnyx import TelnyxReputationProvider

pytestmark = pytest.mark.database_free


def _closed_port() -> int:
    # A port nothing listens on: bound, then closed, so the connection is refused.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_connection_error_never_carries_the_whole_number(settings):
    settings.TELNYX_API_BASE_URL = f"http://127.0.0.1:{_closed_port()}/v2"
    settings.TELNYX_ENTERPRISE_ID = "ent-1"
    settings.PROVIDER_TIMEOUT_SECONDS = 2
    with pytest.raises(ReputationProviderError) as raised:
        TelnyxReputationProvider().check(["+12125550123"], fresh=True)
    message = str(raised.value)
    assert message.startswith("Telnyx could not be reached:")
    assert "+1212***0123" in message
    assert "5550123" not in message
    assert "%2B" not in message
