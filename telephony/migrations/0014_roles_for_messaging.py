from django.db import migrations

from crm.roles import noop, sync_roles


class Migration(migrations.Migration):
    # Agents send SMS and work the inbox; Callers reach none of it (crm/roles.py).
    dependencies = [
        ("telephony", "0013_outbound_messages_and_inbox"),
        ("crm", "0014_phone_number_sms_opt_out"),
    ]
    operations = [migrations.RunPython(sync_roles, noop)]
