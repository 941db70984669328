"""PostgreSQL-only tuning: an UNLOGGED staging table, byte-wise keys, prefix indexes.

The staging rows are scratch space (a crashed import stages its file again), so they
skip the write-ahead log. The caller workspace searches a campaign's contacts by the
start of a name and its accounts by the start of a company name; Django's
``istartswith`` compiles to ``UPPER(col::text) LIKE UPPER('abc%')``, which only an
expression index with ``text_pattern_ops`` answers whatever the collation. Numbers and
dedup keys are ASCII compared for equality by the million during a merge: the "C"
collation compares them byte-wise instead of through the locale. A merge draws an id
per new number from the CampaignPhone sequence: a session-local cache of 1,000 values
spares a sequence-page lock and WAL record per row.
"""

from django.db import migrations

BYTEWISE_COLUMNS = [
    ("campaigns_leadrow", "phone", "varchar(16)"),
    ("campaigns_leadrow", "mobile", "varchar(16)"),
    ("campaigns_leadrow", "dedup_key", "text"),
    ("campaigns_contact", "dedup_key", "text"),
    ("campaigns_campaignphone", "number", "varchar(16)"),
    ("campaigns_donotcallnumber", "number", "varchar(16)"),
    ("campaigns_disposition", "number", "varchar(16)"),
]

INDEXES = {
    "campaigns_contact_name_prefix": (
        "campaigns_contact (campaign_id, UPPER((name)::text) text_pattern_ops)"
    ),
    "campaigns_account_name_prefix": (
        "campaigns_account (campaign_id, UPPER((name)::text) text_pattern_ops)"
    ),
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE campaigns_leadrow SET UNLOGGED")
    for table, column, type_ in BYTEWISE_COLUMNS:
        schema_editor.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_} COLLATE "C"')
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
    schema_editor.execute(
        "ALTER SEQUENCE campaigns_campaignphone_id_seq CACHE 1000"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("ALTER TABLE campaigns_leadrow SET LOGGED")
    for table, column, type_ in BYTEWISE_COLUMNS:
        schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_} COLLATE \"default\"")
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
