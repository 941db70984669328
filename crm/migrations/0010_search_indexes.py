"""The search rule's indexes on PostgreSQL (``crm/search.py``, ``docs/search.md``).

- ``sb_fold(text)``: lower case, accents dropped (``unaccent``), every run of other
  characters one space, a space in front. IMMUTABLE (unaccent with its dictionary named),
  so it can be indexed; a word prefix is ``sb_fold(name) LIKE '% garc%'``.
- ``crm_customer.name_folded``: ``sb_fold(name)`` as a column PostgreSQL generates and
  stores itself, so every writer of a name (merges, erasure, imports, bulk updates) keeps
  it current without knowing it exists, and a match is checked against stored text: at
  1M customers, evaluating sb_fold() on each candidate row was most of a search's time
  (~10 µs a row). Django does not know the column; ``crm.search.Fold`` reads it.
- pg_trgm GIN indexes answer those LIKEs, and an email part (``UPPER(email) LIKE '%x%'``,
  Django's ``icontains``) without reading the table.
- Numbers are E.164 text: the last digits of one are a prefix of the reversed text, which
  a btree with ``text_pattern_ops`` answers (a trigram index cannot anchor at the end).

CREATE EXTENSION needs a superuser (or a trusted extension): the migration says so
rather than failing half-way. SQLite needs none of this (``sb_fold`` is registered on
each connection; its scans are fast at its sizes).
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION sb_fold(text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT ' ' || btrim(regexp_replace(
    lower(public.unaccent('public.unaccent'::regdictionary, $1)), '[^[:alnum:]]+', ' ', 'g'))
$$
"""

GENERATED = (
    "ALTER TABLE crm_customer ADD COLUMN IF NOT EXISTS name_folded text "
    "GENERATED ALWAYS AS (sb_fold(name)) STORED"
)

INDEXES = {
    "crm_customer_name_fold": "crm_customer USING gin (name_folded gin_trgm_ops)",
    "crm_customer_email_trgm": "crm_customer USING gin (UPPER((email)::text) gin_trgm_ops)",
    "crm_phone_number_reversed": "crm_phonenumber (reverse((number)::text) text_pattern_ops)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    schema_editor.execute(FUNCTION)
    schema_editor.execute(GENERATED)
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    schema_editor.execute("ALTER TABLE crm_customer DROP COLUMN IF EXISTS name_folded")


class Migration(migrations.Migration):
    dependencies = [("crm", "0009_merge_by_field_and_undo")]
    operations = [migrations.RunPython(create, drop)]
