from django.db import migrations

from crm.roles import noop, sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0002_prefix_search_indexes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(sync_roles, noop)]
