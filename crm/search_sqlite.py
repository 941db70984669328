"""The SQLite half of the search rule's index: customers' folded names in FTS5.

Migration ``crm 0015`` creates the table and the triggers that keep it in step (0016
makes them fold with ``sb_fold_name``: the words punctuation joins, run together too). SQLite
alters a table by making a new one and dropping the old (Django's ``_remake_table``),
which drops the triggers with it: after every ``migrate`` :func:`repair` puts them back
and re-fills the index when any is missing, so a later migration on ``crm_customer``
cannot leave new names unindexed.
"""

from typing import Any

TABLE = "crm_customer_name_fts"

TRIGGERS = {
    "crm_customer_name_fts_insert": """
    CREATE TRIGGER crm_customer_name_fts_insert AFTER INSERT ON crm_customer BEGIN
      INSERT INTO crm_customer_name_fts (rowid, name) VALUES (new.id, sb_fold_name(new.name));
    END""",
    "crm_customer_name_fts_delete": """
    CREATE TRIGGER crm_customer_name_fts_delete AFTER DELETE ON crm_customer BEGIN
      INSERT INTO crm_customer_name_fts (crm_customer_name_fts, rowid, name)
      VALUES ('delete', old.id, sb_fold_name(old.name));
    END""",
    "crm_customer_name_fts_update": """
    CREATE TRIGGER crm_customer_name_fts_update AFTER UPDATE OF id, name ON crm_customer
    BEGIN
      INSERT INTO crm_customer_name_fts (crm_customer_name_fts, rowid, name)
      VALUES ('delete', old.id, sb_fold_name(old.name));
      INSERT INTO crm_customer_name_fts (rowid, name) VALUES (new.id, sb_fold_name(new.name));
    END""",
}
REFILL = [
    # A contentless table cannot list what it indexed: empty it whole, then index again.
    "INSERT INTO crm_customer_name_fts (crm_customer_name_fts) VALUES ('delete-all')",
    "INSERT INTO crm_customer_name_fts (rowid, name) "
    "SELECT id, sb_fold_name(name) FROM crm_customer",
]


def repair(connection: Any) -> bool:
    """Recreate missing triggers and re-fill the index from ``crm_customer``; ``True``
    when something was missing. Nothing to do before migration 0015 ran."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name LIKE %s", [TABLE + "%"])
        present = {name for (name,) in cursor.fetchall()}
        if TABLE not in present or set(TRIGGERS) <= present:
            return False
        for name, statement in TRIGGERS.items():
            if name not in present:
                cursor.execute(statement)
        for statement in REFILL:
            cursor.execute(statement)
    return True


def repair_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from django.db import connections

    repair(connections[using])
