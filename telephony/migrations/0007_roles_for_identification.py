from django.db import migrations

from crm.roles import noop, sync_roles


class Migration(migrations.Migration):
    # Orchestration, the lookup ledger and backfill runs are Administrators' (telephony.*).
    dependencies = [("telephony", "0006_mobile_identification")]
    operations = [migrations.RunPython(sync_roles, noop)]
