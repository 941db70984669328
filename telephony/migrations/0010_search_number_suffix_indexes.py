"""The last digits of a number on calls (PostgreSQL only; ``crm/search.py``).

The numbers are E.164 text, so "ends in 8212" is a prefix of the reversed text, which a
btree with ``text_pattern_ops`` answers; a trigram index cannot anchor at the end and is
three times the size. A whole number is an equality on ``from_number`` (indexed before)
or ``to_number`` (indexed here: an outbound call's other party is its ``to``).
"""

from django.db import migrations

INDEXES = {
    "telephony_call_from_reversed": "telephony_call (reverse((from_number)::text) text_pattern_ops)",
    "telephony_call_to_reversed": "telephony_call (reverse((to_number)::text) text_pattern_ops)",
    "telephony_call_to": "telephony_call (to_number)",
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
    dependencies = [("telephony", "0009_lookup_claims"), ("crm", "0010_search_indexes")]
    operations = [migrations.RunPython(create, drop)]
