"""The set-based merge's statements (PostgreSQL), in the order the merge runs them.

``{stage}`` is the upload's staging table and ``{contacts}`` the table the plan writes
contacts into; ``%(...)s`` are query parameters (the rules' values among them).
"""

from psycopg import sql

# Each company's first spelling in the file, in any case, is its account's name. lower()
# runs once per spelling, not once per row (a file spells a company the same way on
# thousands of rows).
ACCOUNTS = sql.SQL("""
WITH spellings AS (
    SELECT company, min(row_number) AS row_number
    FROM {stage}
    WHERE company <> ''
    GROUP BY company
), firsts AS (
    SELECT DISTINCT ON (lower(company)) company
    FROM spellings
    ORDER BY lower(company), row_number
), created AS (
    INSERT INTO campaigns_account (campaign_id, name, status, created_at)
    SELECT %(campaign)s, company, %(active)s, now()
    FROM firsts
    ON CONFLICT (campaign_id, lower(name)) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM created
""")

# Each spelling of a company in the file with its account (new or already there): rows
# find their account by their spelling, a plain equality, instead of lower() per row.
COMPANIES = sql.SQL("""
CREATE TEMP TABLE lead_companies ON COMMIT DROP AS
SELECT s.company, a.id
FROM (SELECT DISTINCT company FROM {stage} WHERE company <> '') s
JOIN campaigns_account a ON a.campaign_id = %(campaign)s AND lower(a.name) = lower(s.company)
""")

# Every distinct number of the file with its CampaignPhone id: the existing row's, or a
# fresh id from the table's sequence. New numbers are inserted only after the contacts,
# with their final counts, so no row is written twice. (Merges into one campaign are
# serialised by an advisory lock, so nobody else can insert those numbers meanwhile.)
# In number order, so new ids ascend with the numbers and the inserts below append to
# both of the table's unique indexes instead of landing at random pages. DISTINCT over
# UNION ALL: one sort gives both the distinct numbers and their order, where UNION
# hashed them and then sorted (docs/profiles/ingest.md).
NUMBERS = sql.SQL("""
CREATE TEMP TABLE lead_numbers ON COMMIT DROP AS
SELECT number,
       COALESCE(id, nextval(%(phone_ids)s::regclass)) AS id,
       id IS NULL AS created
FROM (
    SELECT u.number, cp.id
    FROM ({numbers}) u
    LEFT JOIN campaigns_campaignphone cp
           ON cp.campaign_id = %(campaign)s AND cp.number = u.number
    ORDER BY u.number
) ordered
""")

# A campaign without numbers yet (its first upload) has none to look up: probing the
# unique index once per number was 2-3x the statement (docs/profiles/ingest.md).
ALL_NEW_NUMBERS = sql.SQL("""
CREATE TEMP TABLE lead_numbers ON COMMIT DROP AS
SELECT number, nextval(%(phone_ids)s::regclass) AS id, true AS created
FROM ({numbers} ORDER BY number) ordered
""")

DISTINCT_NUMBERS = sql.SQL("""
SELECT DISTINCT number FROM (
    SELECT phone AS number FROM {stage} WHERE phone <> ''
    UNION ALL
    SELECT mobile FROM {stage} WHERE mobile <> ''
) staged""")

ANY_NUMBER = sql.SQL(
    "SELECT EXISTS (SELECT 1 FROM campaigns_campaignphone WHERE campaign_id = %(campaign)s)"
)

NUMBER_COUNTS = sql.SQL("SELECT count(*), count(*) FILTER (WHERE created) FROM lead_numbers")

# One line per contact-to-be: the first row of each dedup key, its row count, the
# contact already holding that key in the campaign, if any, else the new contact's id.
# Ids are drawn here, in file order (PostgreSQL evaluates nextval after the sort), so
# contacts listed by id read as the file did whatever plan the insert below takes.
GROUPS = sql.SQL("""
CREATE TEMP TABLE lead_groups ON COMMIT DROP AS
SELECT g.dedup_key, g.first_row, g.n, c.id AS contact_id,
       CASE WHEN c.id IS NULL THEN nextval(%(contact_ids)s::regclass) END AS new_id
FROM (
    SELECT dedup_key, min(row_number) AS first_row, count(*) AS n
    FROM {stage}
    GROUP BY dedup_key
) g
LEFT JOIN campaigns_contact c ON c.campaign_id = %(campaign)s AND c.dedup_key = g.dedup_key
ORDER BY g.first_row
""")

# The receipt's counts, by kind of key: the contacts this file creates, and its staged
# rows (each staged row is in exactly one group, so they are the groups' sizes).
BY_KIND = sql.SQL("""
SELECT count(*) FILTER (WHERE contact_id IS NULL AND starts_with(dedup_key, %(email_key)s)),
       count(*) FILTER (WHERE contact_id IS NULL AND NOT starts_with(dedup_key, %(email_key)s)),
       sum(n) FILTER (WHERE starts_with(dedup_key, %(email_key)s)),
       sum(n) FILTER (WHERE NOT starts_with(dedup_key, %(email_key)s))
FROM lead_groups
""")

# For a key on two or more rows, the first phone, mobile and company in file order: the
# numbers and company that its first row lacked are taken from the next rows that have
# them, before the contact is written, so no contact row is written twice. As text: every
# staged number and company has its id in lead_numbers and lead_companies, which the
# contact's own joins below look up once (joined here, they cost two hash tables of every
# number in the file for a few thousand keys).
FILLS = sql.SQL("""
CREATE TEMP TABLE lead_fills ON COMMIT DROP AS
SELECT r.dedup_key,
       (array_agg(r.phone ORDER BY r.row_number) FILTER (WHERE r.phone <> ''))[1] AS phone,
       (array_agg(r.mobile ORDER BY r.row_number) FILTER (WHERE r.mobile <> ''))[1] AS mobile,
       (array_agg(r.company ORDER BY r.row_number) FILTER (WHERE r.company <> ''))[1] AS company
FROM lead_groups g
JOIN {stage} r ON r.dedup_key = g.dedup_key
WHERE g.n > 1
GROUP BY r.dedup_key
""")

# The first row r of a key with what later rows fill (f), and its account (a), phone (p)
# and mobile (m) ids: the first row's own, else the fill's.
_FIRST_ROWS = """
FROM lead_groups g
JOIN {stage} r ON r.row_number = g.first_row
LEFT JOIN lead_fills f ON f.dedup_key = g.dedup_key
LEFT JOIN lead_companies a ON a.company = COALESCE(NULLIF(r.company, ''), f.company)
LEFT JOIN lead_numbers p ON p.number = COALESCE(NULLIF(r.phone, ''), f.phone)
LEFT JOIN lead_numbers m ON m.number = COALESCE(NULLIF(r.mobile, ''), f.mobile)
"""

# New contacts: a plain INSERT (no ON CONFLICT speculation per row), safe because merges
# into one campaign are serialised. The ids come with the groups (a bare partition-to-be
# would have no default for them anyway).
NEW_CONTACTS = sql.SQL(
    """
INSERT INTO {contacts} (
    id, campaign_id, account_id, first_name, last_name, name, email, title,
    phone_id, mobile_id, phone_raw, mobile_raw, extra, status, dedup_key,
    merged_rows, upload_id, row_number, created_at
)
SELECT g.new_id, %(campaign)s, a.id,
       r.first_name, r.last_name, r.name, r.email, r.title,
       p.id, m.id, r.phone_raw, r.mobile_raw,
       r.extra, %(active)s, r.dedup_key, g.n - 1, %(upload)s, r.row_number, now()
"""
    + _FIRST_ROWS
    + """
WHERE g.contact_id IS NULL
"""
)

# Rows whose key is already a contact: the contact keeps what it has and gains what it
# lacked, from the file's first row of that key, else from the next rows.
EXISTING_CONTACTS = sql.SQL(
    """
UPDATE campaigns_contact c
SET account_id = COALESCE(c.account_id, a.id),
    phone_id = COALESCE(c.phone_id, p.id),
    mobile_id = COALESCE(c.mobile_id, m.id),
    merged_rows = c.merged_rows + g.n
"""
    + _FIRST_ROWS
    + """
WHERE g.contact_id IS NOT NULL AND c.campaign_id = %(campaign)s AND c.id = g.contact_id
"""
)

# contact_count = distinct contacts carrying the number in either column: a contact
# with the same number in both columns counts once (NULLIF). Only this file's numbers
# can change ({only_this_file}; every number of a new partition is one of them).
COUNTS = sql.SQL("""
CREATE TEMP TABLE lead_counts ON COMMIT DROP AS
SELECT v.pid, count(*) AS n
FROM {contacts} c
CROSS JOIN LATERAL (VALUES (c.phone_id), (NULLIF(c.mobile_id, c.phone_id))) v (pid)
WHERE c.campaign_id = %(campaign)s AND v.pid IS NOT NULL {only_this_file}
GROUP BY v.pid
""")
ONLY_THIS_FILE = sql.SQL("AND v.pid IN (SELECT id FROM lead_numbers)")

# New numbers arrive with their counts, and disqualified everywhere when on the
# do-not-call list ("everywhere" covers uploads yet to come).
NEW_PHONES = sql.SQL("""
INSERT INTO campaigns_campaignphone (
    id, campaign_id, number, contact_count, status, status_scope, status_reason,
    status_changed_at, created_at
)
SELECT n.id, %(campaign)s, n.number, COALESCE(t.n, 0),
       CASE WHEN d.id IS NULL THEN %(active)s ELSE %(disqualified)s END,
       CASE WHEN d.id IS NULL THEN '' ELSE %(everywhere)s END,
       COALESCE(left(d.reason, 255), ''),
       CASE WHEN d.id IS NULL THEN NULL ELSE now() END,
       now()
FROM lead_numbers n
LEFT JOIN lead_counts t ON t.pid = n.id
LEFT JOIN campaigns_donotcallnumber d ON d.number = n.number
WHERE n.created
ORDER BY n.id
""")

EXISTING_COUNTS = sql.SQL("""
UPDATE campaigns_campaignphone cp SET contact_count = t.n
FROM lead_counts t JOIN lead_numbers n ON n.id = t.pid AND NOT n.created
WHERE cp.id = t.pid AND cp.contact_count <> t.n
""")

ANY_DO_NOT_CALL = sql.SQL("SELECT EXISTS (SELECT 1 FROM campaigns_donotcallnumber)")

DO_NOT_CALL = sql.SQL("""
UPDATE campaigns_campaignphone cp
SET status = %(disqualified)s, status_scope = %(everywhere)s,
    status_reason = left(d.reason, 255), status_changed_at = now()
FROM campaigns_donotcallnumber d
WHERE cp.campaign_id = %(campaign)s AND cp.number = d.number AND cp.status = %(active)s
""")

FILE_DO_NOT_CALL = sql.SQL(
    "SELECT count(*) FROM lead_numbers JOIN campaigns_donotcallnumber USING (number)"
)

DROP_TEMP_TABLES = sql.SQL(
    "DROP TABLE IF EXISTS lead_companies, lead_numbers, lead_groups, lead_fills, lead_counts"
)
