"""Requests signed as Twilio signs them, with the tests' auth token."""

from twilio.request_validator import RequestValidator

TOKEN = "test-auth-token-0123456789abcdef"
OUR_NUMBER = "+18005550100"


def sign(url: str, params: dict, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)
