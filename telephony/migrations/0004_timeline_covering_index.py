"""Make the call timeline index cover the analytics' columns (PostgreSQL only).

The customer page aggregates duration, satisfaction and reason over a customer's calls;
with them INCLUDEd in the (customer, started_at, id) index those aggregates are
index-only scans instead of a heap visit per call, whatever the history's length. SQLite
has no INCLUDE, so the model declares the plain index and this migration widens it.
"""

from django.db import migrations

COVERING = (
    "CREATE INDEX telephony_call_timeline ON telephony_call "
    "(customer_id, started_at DESC, id DESC) INCLUDE (duration_seconds, satisfaction, reason)"
)
PLAIN = (
    "CREATE INDEX telephony_call_timeline ON telephony_call "
    "(customer_id, started_at DESC, id DESC)"
)


def widen(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS telephony_call_timeline")
    schema_editor.execute(COVERING)


def narrow(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS telephony_call_timeline")
    schema_editor.execute(PLAIN)


class Migration(migrations.Migration):
    dependencies = [("telephony", "0003_roles")]
    operations = [migrations.RunPython(widen, narrow)]
