"""Case-insensitive prefix indexes for the admin's name/email search (PostgreSQL only).

Django's ``istartswith`` compiles to ``UPPER(col::text) LIKE UPPER('abc%')``; only an
expression index on exactly that, with ``text_pattern_ops``, lets PostgreSQL answer it
from the index whatever the database collation. SQLite has no operator classes.
"""

from django.db import migrations

INDEXES = {
    "crm_customer_name_prefix": "crm_customer (UPPER((name)::text) text_pattern_ops)",
    "crm_customer_email_prefix": "crm_customer (UPPER((email)::text) text_pattern_ops)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
