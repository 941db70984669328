"""Agents write notes; the API keys people made before are kept, hashed.

Every DRF ``authtoken`` key (stored in clear text) becomes an :class:`ApiToken` holding
only its SHA-256 digest, and the clear-text row goes: integrators keep using the same
key, and a database dump no longer holds any (docs/search.md, "API tokens").
"""

import hashlib

from django.db import migrations

from crm.roles import noop, sync_roles


def hash_legacy_tokens(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    ApiToken = apps.get_model("crm", "ApiToken")
    for token in Token.objects.all():
        digest = hashlib.sha256(token.key.encode()).hexdigest()
        ApiToken.objects.get_or_create(
            digest=digest,
            defaults={
                "user_id": token.user_id,
                "name": "API token (made before tokens were hashed)",
                "prefix": token.key[:8],
            },
        )
        token.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0011_notes_and_api_tokens"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]
    operations = [
        migrations.RunPython(sync_roles, noop),
        migrations.RunPython(hash_legacy_tokens, noop),
    ]
