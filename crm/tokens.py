"""API tokens each staff user makes and revokes for themselves, stored hashed.

DRF's ``authtoken`` keeps keys in clear text and lets only Administrators make them;
django-rest-knox hashes, but its tokens come from a login endpoint with an expiry and
its authentication refuses a key it does not know, which would end the keys integrators
already hold. So: a small model keeping a SHA-256 digest (the key is 256 random bits,
so no salt or slow hash is needed: nobody can guess one), and one authentication class
(``Authorization: Token <key>`` or ``Bearer <key>``) that also accepts a key still in
DRF's table, made after the migration that hashed the others.
"""

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.request import Request

from crm.models import ApiToken

KEY_PREFIX = "sb_"
# last_used_at is written at most this often per token: not a write per request.
TOUCH_EVERY = timedelta(minutes=5)
MAX_TOKENS_PER_USER = 20


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class HashedTokenAuthentication(TokenAuthentication):
    """``Token <key>`` (as DRF's) or ``Bearer <key>``."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() not in (b"token", b"bearer"):
            return None
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: give one key.")
        try:
            key = auth[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        return self.authenticate_credentials(key)

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if "\x00" in key or len(key) > 200:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token = (
            ApiToken.objects.select_related("user")
            .filter(digest=digest(key), revoked_at__isnull=True)
            .first()
        )
        if token is None:
            return super().authenticate_credentials(key)  # a key still in DRF's table
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token


@transaction.atomic
def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token and its key: the only time the key exists outside the caller's hands."""
    from django.core.exceptions import ValidationError

    name = " ".join(str(name or "").replace("\x00", "").split())[:100]
    if not name:
        raise ValidationError("Give the token a name: what will use it.")
    live = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    if live.count() >= MAX_TOKENS_PER_USER:
        raise ValidationError(
            f"You have {MAX_TOKENS_PER_USER} tokens: revoke one you no longer use first."
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:10], digest=digest(key))
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
