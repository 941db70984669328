"""Customers' folded names in an FTS5 index (SQLite only; ``crm/search.py``, ``docs/search.md``).

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

PostgreSQL needs none of this: migration 0010's generated column and trigram index.
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


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in CREATE:
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("crm", "0014_phone_number_sms_opt_out")]
    operations = [migrations.RunPython(create, drop)]
