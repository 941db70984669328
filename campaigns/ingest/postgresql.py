"""Phase 2 on PostgreSQL: one transaction of set-based SQL.

The staged rows become accounts, contacts (one per key, ``rules``) and Campaign Phone
Counts. Natural keys and ``ON CONFLICT`` make a re-run add nothing twice. Where the
contacts go is decided once, up front, by :class:`ContactsPlan`.
"""

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from psycopg import sql

import campaigns.ingest.partitions as partitions
import campaigns.ingest.postgresql_sql as q
import campaigns.ingest.rules as rules
from campaigns.ingest.staging import drop_staging_table, staging_table
from campaigns.models import LeadUpload

STAGE_KEYS = ("row_number", "dedup_key", "company", "phone", "mobile")
# The scratch tables' statistics target: a sample of 300 x this many rows.
SCRATCH_STATISTICS = 10


class CampaignGone(Exception):
    """The campaign was deleted while its upload was being imported."""


@dataclass(frozen=True)
class ContactsPlan:
    """Where this merge writes the campaign's contacts.

    ``new_partition``: the campaign has no contacts yet, so they load into a bare table of
    its own, indexed after the load and attached at the end. Otherwise they go through
    the parent into ``leaf``, where the campaign's contacts already are (its partition,
    or the default one for contacts made by hand before any upload).
    """

    campaign_id: int
    new_partition: bool
    leaf: str

    @classmethod
    def decide(cls, cursor: Any, campaign_id: int) -> "ContactsPlan":
        own = partitions.contact_partition(campaign_id)
        if partitions.partition_exists(cursor, campaign_id):
            return cls(campaign_id, new_partition=False, leaf=own)
        # From here on this merge writes near the default partition (into it, or a
        # partition attached beside it).
        partitions.lock_attach()
        if partitions.campaign_has_contacts(cursor, campaign_id):
            return cls(campaign_id, new_partition=False, leaf=partitions.DEFAULT_PARTITION)
        return cls(campaign_id, new_partition=True, leaf=own)

    @property
    def contacts(self) -> sql.Identifier:
        """The table new contacts are inserted into."""
        return sql.Identifier(self.leaf if self.new_partition else partitions.PARENT)

    @property
    def counts_filter(self) -> sql.Composable:
        # Every number of a new partition is one of this file's.
        return sql.SQL("") if self.new_partition else q.ONLY_THIS_FILE

    def before_load(self, cursor: Any) -> None:
        if self.new_partition:
            partitions.create_partition(cursor, self.campaign_id)

    def after_load(self, cursor: Any) -> None:
        if self.new_partition:
            partitions.index_partition(cursor, self.campaign_id)
        # The contacts just written change the table's size by up to a million rows:
        # without fresh statistics the planner may join them by nested loops.
        cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(self.leaf)))

    def finish(self, cursor: Any) -> None:
        if self.new_partition:
            partitions.attach_partition(cursor, self.campaign_id)


def merge(upload: LeadUpload) -> rules.MergeResult:
    """Turn the staged rows into accounts, contacts and Campaign Phone Counts (atomic)."""
    with transaction.atomic(), connection.cursor() as cursor:
        run = _Merge(cursor, upload)
        run.begin()
        plan = ContactsPlan.decide(cursor, upload.campaign_id)
        run.accounts_and_numbers()
        plan.before_load(cursor)
        run.contacts(plan)
        plan.after_load(cursor)
        run.phones(plan)
        run.end()
        plan.finish(cursor)
    return run.result


class _Merge:
    """The merge's statements over one cursor, with the parameters they share."""

    def __init__(self, cursor: Any, upload: LeadUpload) -> None:
        self.cursor = cursor
        self.upload = upload
        self.stage = staging_table(upload.pk)
        self.params: dict[str, Any] = {
            **rules.SQL_PARAMS,
            "campaign": upload.campaign_id,
            "upload": upload.pk,
        }
        self.result = rules.MergeResult()

    def run(self, statement: sql.SQL, **parts: sql.Composable) -> None:
        self.cursor.execute(statement.format(stage=self.stage, **parts), self.params)

    def fetch(self, statement: sql.SQL, **parts: sql.Composable) -> tuple[int, ...]:
        self.run(statement, **parts)
        return tuple(int(value or 0) for value in self.cursor.fetchone())

    def analyze(self, table: sql.Identifier, columns: tuple[str, ...] = ()) -> None:
        """Statistics of a scratch table, from a small sample: the statements only need
        its size and how many distinct values it has to choose hash joins and aggregates,
        and the default sample (30,000 rows) cost 0.2-0.6 s a table. The contacts' own
        ANALYZE (``ContactsPlan.after_load``) keeps the default: pages plan with it."""
        listed = sql.SQL(" ({})").format(sql.SQL(", ").join(map(sql.Identifier, columns)))
        self.cursor.execute(
            sql.SQL("SET LOCAL default_statistics_target = {}").format(
                sql.Literal(SCRATCH_STATISTICS)
            )
        )
        self.cursor.execute(
            sql.SQL("ANALYZE {}{}").format(table, listed if columns else sql.SQL(""))
        )
        self.cursor.execute("SET LOCAL default_statistics_target TO DEFAULT")

    def begin(self) -> None:
        partitions.lock_campaign(self.upload.campaign_id)
        # A campaign deleted while its file was being read takes no contacts; holding its
        # row until commit keeps a deletion from starting meanwhile.
        self.cursor.execute(
            "SELECT 1 FROM campaigns_campaign WHERE id = %s FOR KEY SHARE",
            [self.upload.campaign_id],
        )
        if self.cursor.fetchone() is None:
            raise CampaignGone(f"Campaign {self.upload.campaign_id} was deleted during the import.")
        # Temp tables drop at commit; inside an enclosing transaction (tests, a caller's
        # atomic block) an earlier merge's may still be there.
        self.run(q.DROP_TEMP_TABLES)
        # Hash aggregates over a million rows stay in memory instead of spilling, and so
        # do the sorts that build a new partition's indexes.
        self.cursor.execute("SET LOCAL work_mem = '128MB'")
        self.cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        # Compiling these plain scans and joins costs more than it saves (up to 0.2 s each).
        self.cursor.execute("SET LOCAL jit = off")
        # Looked up once: in the statements, the lookup would run once per row.
        self.cursor.execute(
            "SELECT pg_get_serial_sequence('campaigns_contact', 'id'), "
            "pg_get_serial_sequence('campaigns_campaignphone', 'id')"
        )
        self.params["contact_ids"], self.params["phone_ids"] = self.cursor.fetchone()

    def accounts_and_numbers(self) -> None:
        # Only the columns the statements group and join on: the staged text and extra
        # data are only carried along (their statistics cost as much as these).
        self.analyze(self.stage, STAGE_KEYS)
        (self.result.accounts_created,) = self.fetch(q.ACCOUNTS)
        self.run(q.COMPANIES)
        self.analyze(sql.Identifier("lead_companies"))
        (any_number,) = self.fetch(q.ANY_NUMBER)
        numbers = q.DISTINCT_NUMBERS.format(stage=self.stage)
        self.run(q.NUMBERS if any_number else q.ALL_NEW_NUMBERS, numbers=numbers)
        self.analyze(sql.Identifier("lead_numbers"))
        self.result.numbers_found, self.result.numbers_created = self.fetch(q.NUMBER_COUNTS)

    def contacts(self, plan: ContactsPlan) -> None:
        self.run(q.GROUPS)
        self.analyze(sql.Identifier("lead_groups"))
        email_created, other_created, email_rows, other_rows = self.fetch(q.BY_KIND)
        self.result.count_rows(
            email_rows=email_rows,
            other_rows=other_rows,
            email_created=email_created,
            other_created=other_created,
        )
        self.run(q.FILLS)
        self.run(q.NEW_CONTACTS, contacts=plan.contacts)
        if not plan.new_partition:
            self.run(q.EXISTING_CONTACTS)

    def phones(self, plan: ContactsPlan) -> None:
        self.run(q.COUNTS, contacts=plan.contacts, only_this_file=plan.counts_filter)
        self.analyze(sql.Identifier("lead_counts"))
        self.run(q.NEW_PHONES)
        self.run(q.EXISTING_COUNTS)
        (any_do_not_call,) = self.fetch(q.ANY_DO_NOT_CALL)
        if any_do_not_call:
            self.run(q.DO_NOT_CALL)
            (self.result.numbers_do_not_call,) = self.fetch(q.FILE_DO_NOT_CALL)

    def end(self) -> None:
        drop_staging_table(self.cursor, self.upload.pk)
        self.run(q.DROP_TEMP_TABLES)
