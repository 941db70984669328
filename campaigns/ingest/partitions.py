"""Contacts are partitioned by campaign on PostgreSQL (migration 0004).

A campaign whose contacts table would start empty loads a bare table of its own: the
rows go in without index upkeep, and each index is then built once, sorted (half the time
of inserting a million rows into six indexes). It becomes the campaign's partition at the
very end of the merge, because attaching locks the default partition until commit.
"""

from typing import Any

from django.db import connection
from psycopg import sql

from crm.db import LockNamespace, advisory_xact_lock

PARENT = "campaigns_contact"
DEFAULT_PARTITION = "campaigns_contact_default"


def contact_partition(campaign_id: int) -> str:
    """The table holding a campaign's contacts once its first upload made one."""
    return f"{PARENT}_c{int(campaign_id)}"


def lock_campaign(campaign_id: int) -> None:
    """Wait for (and then hold, until commit) the campaign's merge lock: merges into one
    campaign, and a deletion of it, happen one at a time."""
    advisory_xact_lock(LockNamespace.CAMPAIGN_MERGE, campaign_id)


def lock_attach() -> None:
    """A merge that may attach a partition holds locks on the default partition until
    commit, as does one writing contacts into it: two such merges, each waiting on the
    other's lock, would deadlock. They take turns instead (reading and staging still run
    side by side)."""
    advisory_xact_lock(LockNamespace.PARTITION_ATTACH, 0)


def partition_exists(cursor: Any, campaign_id: int) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [contact_partition(campaign_id)])
    row = cursor.fetchone()
    return bool(row and row[0])


def campaign_has_contacts(cursor: Any, campaign_id: int) -> bool:
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM campaigns_contact WHERE campaign_id = %s)", [campaign_id]
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def _bound(campaign_id: int) -> sql.Identifier:
    return sql.Identifier(f"{contact_partition(campaign_id)}_bound")


def create_partition(cursor: Any, campaign_id: int) -> None:
    """A bare table shaped like the parent; the CHECK proves the partition bound, so
    attaching it later does not scan the table."""
    table = sql.Identifier(contact_partition(campaign_id))
    cursor.execute(
        sql.SQL(
            "CREATE TABLE {table} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        ).format(table=table, parent=sql.Identifier(PARENT))
    )
    cursor.execute(
        sql.SQL("ALTER TABLE {table} ADD CONSTRAINT {bound} CHECK (campaign_id = {id})").format(
            table=table, bound=_bound(campaign_id), id=sql.Literal(int(campaign_id))
        )
    )


# The parent's indexes, read from the catalogue so that an index a later migration adds
# is built here too (attaching would otherwise build it, under the lock).
_SQL_PARENT_INDEXES = """
SELECT i.indisunique, c.relname, pg_get_indexdef(i.indexrelid), con.contype
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
WHERE i.indrelid = 'campaigns_contact'::regclass
ORDER BY c.relname
"""


def index_partition(cursor: Any, campaign_id: int) -> None:
    partition = contact_partition(campaign_id)
    table = sql.Identifier(partition)
    cursor.execute(_SQL_PARENT_INDEXES)
    for unique, parent_name, definition, constraint in cursor.fetchall():
        name = sql.Identifier(partition + parent_name.removeprefix(PARENT))
        # The catalogue's own text for the index method and columns.
        method_and_columns = sql.SQL(definition.split(" USING ", 1)[1])
        cursor.execute(
            sql.SQL("CREATE {unique}INDEX {name} ON {table} USING {rest}").format(
                unique=sql.SQL("UNIQUE " if unique else ""),
                name=name,
                table=table,
                rest=method_and_columns,
            )
        )
        if constraint in ("p", "u"):
            kind = sql.SQL("PRIMARY KEY" if constraint == "p" else "UNIQUE")
            cursor.execute(
                sql.SQL(
                    "ALTER TABLE {table} ADD CONSTRAINT {name} {kind} USING INDEX {name}"
                ).format(table=table, name=name, kind=kind)
            )


def attach_partition(cursor: Any, campaign_id: int) -> None:
    table = sql.Identifier(contact_partition(campaign_id))
    cursor.execute(
        sql.SQL("ALTER TABLE {parent} ATTACH PARTITION {table} FOR VALUES IN ({id})").format(
            parent=sql.Identifier(PARENT), table=table, id=sql.Literal(int(campaign_id))
        )
    )
    cursor.execute(
        sql.SQL("ALTER TABLE {table} DROP CONSTRAINT {bound}").format(
            table=table, bound=_bound(campaign_id)
        )
    )


def drop_partition(campaign_id: int) -> None:
    """Detach and drop a campaign's partition, if it has one (its contacts go with it)."""
    with connection.cursor() as cursor:
        if not partition_exists(cursor, campaign_id):
            return
        table = sql.Identifier(contact_partition(campaign_id))
        # A partition that a foreign key's table references is detached before dropping.
        cursor.execute(
            sql.SQL("ALTER TABLE {parent} DETACH PARTITION {table}").format(
                parent=sql.Identifier(PARENT), table=table
            )
        )
        cursor.execute(sql.SQL("DROP TABLE {table}").format(table=table))
