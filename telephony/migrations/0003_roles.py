from django.db import migrations

from crm.roles import noop, sync_roles


class Migration(migrations.Migration):
    # Agents may view calls, messages, assistants and frequent callers; settings and
    # retention runs stay with Administrators.
    dependencies = [
        ("telephony", "0002_calls_messages_settings"),
        ("crm", "0007_phone_type_source_inbound_call"),
    ]
    operations = [migrations.RunPython(sync_roles, noop)]
