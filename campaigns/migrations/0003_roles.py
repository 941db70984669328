from django.db import migrations

from crm.roles import noop, sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_postgresql_tuning"),
        ("crm", "0003_roles"),
    ]
    operations = [migrations.RunPython(sync_roles, noop)]
