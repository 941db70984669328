"""Possible matches: two live profiles that share a number or an email, found set-based
and offered to agents (docs/product.md, "Possible matches and merges"); dismissing one."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from crm.actors import Actor, acting_user
from crm.models import MatchSuggestion

# A number on more profiles than this is a switchboard or a shared line, not a sign that
# two profiles are one person; pairing every holder would bury agents in suggestions.
MATCH_MAX_HOLDERS = 3

# Composed with psycopg.sql (never str.format or f-strings): only these constants and
# psycopg's own literals of int()-converted ids make up the statement. It is rendered to
# plain text with psycopg's default quoting, which SQLite reads as well as PostgreSQL.
_MATCH_SQL = {
    MatchSuggestion.Reason.SHARED_NUMBER: sql.SQL("""
        SELECT a.customer_id, b.customer_id, a.number
        FROM crm_phonenumber a
        JOIN crm_phonenumber b ON b.number = a.number AND a.customer_id < b.customer_id
        JOIN crm_customer ca ON ca.id = a.customer_id AND ca.merged_into_id IS NULL
        JOIN crm_customer cb ON cb.id = b.customer_id AND cb.merged_into_id IS NULL
        -- Two holders of one household line or one office switchboard are relatives or
        -- colleagues: only a number someone holds as their own hints at a duplicate.
        WHERE NOT (a.type = b.type AND a.type IN ('home', 'office'))
          AND a.number IN (
            SELECT number FROM crm_phonenumber {scope}
            GROUP BY number HAVING COUNT(*) BETWEEN 2 AND %(max_holders)s
        )
    """),
    MatchSuggestion.Reason.SHARED_EMAIL: sql.SQL("""
        SELECT a.id, b.id, LOWER(a.email)
        FROM crm_customer a
        JOIN crm_customer b ON LOWER(b.email) = LOWER(a.email) AND a.id < b.id
        WHERE a.email <> '' AND a.merged_into_id IS NULL AND b.merged_into_id IS NULL
          AND LOWER(a.email) IN (
            SELECT LOWER(email) FROM crm_customer {scope}
            GROUP BY LOWER(email) HAVING COUNT(*) BETWEEN 2 AND %(max_holders)s
        )
    """),
}
_MATCH_SCOPE = {
    MatchSuggestion.Reason.SHARED_NUMBER: sql.SQL(
        "WHERE number IN (SELECT number FROM crm_phonenumber WHERE customer_id IN ({ids}))"
    ),
    MatchSuggestion.Reason.SHARED_EMAIL: sql.SQL(
        "WHERE email <> '' AND LOWER(email) IN "
        "(SELECT LOWER(email) FROM crm_customer WHERE id IN ({ids}))"
    ),
}
_MATCH_INSERT = sql.SQL(
    "INSERT INTO crm_matchsuggestion (customer_id, other_id, detail, reason, status, created_at) "
    "SELECT pairs.*, %(reason)s, 'open', %(now)s FROM ({select}) "
    # WHERE true: SQLite cannot otherwise tell ON CONFLICT from a join's ON.
    "AS pairs WHERE true ON CONFLICT (customer_id, other_id) DO NOTHING"
)


def match_suggestions_refresh(*, customer_ids: Iterable[int] | None = None) -> int:
    """Record an open suggestion for each pair of live profiles sharing a number or email.

    Set-based and idempotent: a pair already suggested (open, merged or dismissed) is left
    as it is, so a dismissed pair never comes back. ``customer_ids`` limits the work to
    the numbers and emails those profiles hold. Returns how many suggestions were added.
    """
    ids = sorted({int(pk) for pk in customer_ids}) if customer_ids is not None else None
    if ids == []:
        return 0
    added = 0
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        for reason, select in _MATCH_SQL.items():
            scope = (
                _MATCH_SCOPE[reason].format(ids=sql.SQL(", ").join(map(sql.Literal, ids)))
                if ids
                else sql.SQL("")
            )
            statement = _MATCH_INSERT.format(select=select.format(scope=scope))
            cursor.execute(
                statement.as_string(),
                {"reason": reason, "now": now, "max_holders": MATCH_MAX_HOLDERS},
            )
            added += max(cursor.rowcount, 0)
    return added


@transaction.atomic
def match_suggestion_dismiss(*, suggestion: MatchSuggestion, actor: Actor = None) -> None:
    if suggestion.status != MatchSuggestion.Status.OPEN:
        raise ValidationError("This suggestion was already resolved.")
    suggestion.status = MatchSuggestion.Status.DISMISSED
    suggestion.resolved_at = timezone.now()
    suggestion.resolved_by = acting_user(actor)
    suggestion.save(update_fields=["status", "resolved_at", "resolved_by"])
