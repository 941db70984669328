"""The search rule's name index: FTS5 on SQLite, better estimates on PostgreSQL.

``crm/search.py``, ``docs/search.md``, ``docs/profiles/search.md``.

**SQLite.** Customers' folded names in an FTS5 index.
SQLite has no unaccent and no trigram index, so a word search folded every name in
Python (``sb_fold``) on every search: 0.2-1.5 s at 100k customers. An FTS5 table holds
``sb_fold(name)`` by the customer's id (its rowid) and answers "a word starting so" from
its term index. It is contentless (``content=''``): it keeps only the index, and the text
it indexed is always ``sb_fold`` of the name, so a delete can name it again.

Triggers keep it in step with ``crm_customer`` whoever writes a name (the services,
merges, erasure, bulk updates); they call ``sb_fold``, which every Django connection
registers (``crm.apps``). Folded text is letters, digits and single spaces, so the
``unicode61`` tokenizer (diacritics kept: ``sb_fold`` already removed them, the same way
as PostgreSQL's unaccent) splits it into exactly the words ``sb_fold`` made.
``crm.search_sqlite.repair`` puts the triggers back after a migration that remakes the
table (SQLite's way of altering one drops them).

**PostgreSQL** has migration 0010's generated column and trigram index. What it lacked
was an estimate: with the default statistics a word's LIKE on ``name_folded`` was guessed
at 0.04% of the rows whatever the word (EXPLAIN: 396 rows for ``garcia``, 13,343 found),
so a common surname read every match through the trigram index and sorted them all
(57-110 ms at 1M customers) instead of walking the newest-first index until it had its
500 (it stops after ~37k rows). A histogram of 1,000 entries (``SET STATISTICS 1000``)
estimates a word's share from the names themselves: 12,811 for ``garcia``, and a rare
word still goes to the trigram index. The same holds for a part of an email
(``UPPER(email) LIKE '%rez12%'``, estimated from the expression indexes' statistics): at
the default 1% it walked 875k rows from the newest (1.6 s) for 374 matches that were all
old customers; with the histogram it reads them from the trigram index (1.4 ms).
ANALYZE samples 300k rows for it (seconds at 1M, 25 s on a loaded 2-core machine).
"""

from django.db import migrations

CREATE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS crm_customer_name_fts USING fts5("
    "name, content='', tokenize='unicode61 remove_diacritics 0', prefix='2 3')",
    """
    CREATE TRIGGER IF NOT EXISTS crm_customer_name_fts_insert AFTER INSERT ON crm_customer
    BEGIN
      INSERT INTO crm_customer_name_fts (rowid, name) VALUES (new.id, sb_fold(new.name));
    END""",
    """
    CREATE TRIGGER IF NOT EXISTS crm_customer_name_fts_delete AFTER DELETE ON crm_customer
    BEGIN
      INSERT INTO crm_customer_name_fts (crm_customer_name_fts, rowid, name)
      VALUES ('delete', old.id, sb_fold(old.name));
    END""",
    """
    CREATE TRIGGER IF NOT EXISTS crm_customer_name_fts_update
    AFTER UPDATE OF id, name ON crm_customer
    BEGIN
      INSERT INTO crm_customer_name_fts (crm_customer_name_fts, rowid, name)
      VALUES ('delete', old.id, sb_fold(old.name));
      INSERT INTO crm_customer_name_fts (rowid, name) VALUES (new.id, sb_fold(new.name));
    END""",
    "INSERT INTO crm_customer_name_fts (rowid, name) SELECT id, sb_fold(name) FROM crm_customer",
]

DROP = [
    "DROP TRIGGER IF EXISTS crm_customer_name_fts_insert",
    "DROP TRIGGER IF EXISTS crm_customer_name_fts_delete",
    "DROP TRIGGER IF EXISTS crm_customer_name_fts_update",
    "DROP TABLE IF EXISTS crm_customer_name_fts",
]


STATISTICS = [
    "ALTER TABLE crm_customer ALTER COLUMN name_folded SET STATISTICS 1000",
    # UPPER(email) is estimated from its expression indexes' statistics.
    "ALTER INDEX crm_customer_email_trgm ALTER COLUMN 1 SET STATISTICS 1000",
    "ALTER INDEX crm_customer_email_prefix ALTER COLUMN 1 SET STATISTICS 1000",
    "ANALYZE crm_customer",
]
DEFAULT_STATISTICS = [
    "ALTER TABLE crm_customer ALTER COLUMN name_folded SET STATISTICS -1",
    "ALTER INDEX crm_customer_email_trgm ALTER COLUMN 1 SET STATISTICS -1",
    "ALTER INDEX crm_customer_email_prefix ALTER COLUMN 1 SET STATISTICS -1",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = CREATE if vendor == "sqlite" else STATISTICS if vendor == "postgresql" else []
    for statement in statements:
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = (
        DROP if vendor == "sqlite" else DEFAULT_STATISTICS if vendor == "postgresql" else []
    )
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("crm", "0014_phone_number_sms_opt_out")]
    operations = [migrations.RunPython(create, drop)]
