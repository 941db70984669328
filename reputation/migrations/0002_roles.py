from django.db import migrations

from crm.roles import noop, sync_roles


class Migration(migrations.Migration):
    # Administrators get every reputation permission; no other role gets any.
    dependencies = [("reputation", "0001_initial")]
    operations = [migrations.RunPython(sync_roles, noop)]
