"""The search rule's indexes on PostgreSQL (``crm/search.py``, ``docs/search.md``).

- ``sb_fold(text)``: lower case, accents dropped (``unaccent``), every run of other
  characters one space, a space in front. IMMUTABLE (unaccent with its dictionary named),
  so it can be indexed; a word prefix is ``sb_fold(name) LIKE '% garc%'``.
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

INDEXES = {
    "crm_customer_name_fold": "crm_customer USING gin (sb_fold(name) gin_trgm_ops)",
    "crm_customer_email_trgm": "crm_customer USING gin (UPPER((email)::text) gin_trgm_ops)",
    "crm_phone_number_reversed": "crm_phonenumber (reverse((number)::text) text_pattern_ops)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    schema_editor.execute(FUNCTION)
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("crm", "0008_customer_erasure")]
    operations = [migrations.RunPython(create, drop)]
