"""Indexes for the search rule on campaign leads (PostgreSQL; ``campaigns/search.py``).

The caller workspace and the header search look for a lead by a word of its name, a word
of its company's name, or the last digits of one of its numbers (``docs/search.md``).
Without these, each of those read every contact of the campaign (a million rows and
``sb_fold()`` on each) or every number of it:

- ``campaigns_contact_name_fold``: pg_trgm GIN on ``sb_fold(name)`` answers a word
  prefix, ``sb_fold(name) LIKE '% garc%'``. It is made on the partitioned table, so every
  campaign's partition has one (an upload builds it once with the partition's other
  indexes: ``campaigns/ingest/partitions.py`` copies the parent's).
- ``campaigns_contact_email_trgm``: pg_trgm GIN on ``UPPER(email)`` answers part of an
  email (Django's ``icontains``), which the rule also tries for any one-word term
  ("smith" finds jsmith@...), as ``crm_customer_email_trgm`` does for customers.
- ``campaigns_account_name_fold``: the same as names on the companies.
- ``campaigns_phone_number_reversed``: the last digits of an E.164 number are a prefix of
  its reversed text, which a btree with ``text_pattern_ops`` answers (as
  ``crm_phone_number_reversed`` does for customers).

The ``UPPER(name) text_pattern_ops`` prefix indexes of migrations 0002 and 0004 served
an ``istartswith`` search that the rule replaced; nothing reads them, and an upload no
longer pays for building them.
"""

from django.db import migrations

INDEXES = {
    "campaigns_contact_name_fold": "campaigns_contact USING gin (sb_fold((name)::text) gin_trgm_ops)",
    "campaigns_contact_email_trgm": (
        "campaigns_contact USING gin (UPPER((email)::text) gin_trgm_ops)"
    ),
    "campaigns_account_name_fold": "campaigns_account USING gin (sb_fold((name)::text) gin_trgm_ops)",
    "campaigns_phone_number_reversed": (
        "campaigns_campaignphone (reverse((number)::text) text_pattern_ops)"
    ),
}
OLD_INDEXES = {
    "campaigns_contact_name_prefix": (
        "campaigns_contact (campaign_id, UPPER((name)::text) text_pattern_ops)"
    ),
    "campaigns_account_name_prefix": (
        "campaigns_account (campaign_id, UPPER((name)::text) text_pattern_ops)"
    ),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in OLD_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
    # The planner knows an indexed expression's values only once analysed: until then it
    # guesses, and may AND a campaign's million-entry index to the few matches.
    schema_editor.execute("ANALYZE campaigns_contact, campaigns_account, campaigns_campaignphone")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    for name, target in OLD_INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0012_do_not_call_import"),
        ("crm", "0010_search_indexes"),
    ]
    operations = [migrations.RunPython(create, drop)]
