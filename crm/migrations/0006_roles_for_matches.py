from django.db import migrations

from crm.roles import noop, sync_roles


class Migration(migrations.Migration):
    dependencies = [("crm", "0005_match_suggestions_and_merges")]
    operations = [migrations.RunPython(sync_roles, noop)]
