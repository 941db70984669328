"""The one search rule: how people look for someone (``docs/search.md``).

A term is read once into a :class:`Query`: a number typed any way (``crm/phones.py``),
the last 4 or more digits of a number, the words of a name or company (each matching the
start of a word, case and accents ignored: ``garc`` finds "Ana García"), and an email or
part of one. Every list applies it through :func:`best`, which keeps a queryset's best
rows and annotates ``search_rank``: 0 an exact number or email, 1 a name, 2 a partial
match (part of an email, the last digits of a number). Upper apps (telephony, campaigns) apply the
rule to their own querysets and register their kinds in :data:`search_registry`, so the
header search box and ``/api/search/`` cover them without crm importing them.

Names are compared folded: ``sb_fold(text)`` lower-cases, drops accents and turns every
run of non-alphanumerics into one space, with a space in front, so a word prefix is
``sb_fold(name) LIKE '% garc%'``. On PostgreSQL ``sb_fold`` is an IMMUTABLE SQL function
over ``unaccent`` with a pg_trgm GIN index on it (migration 0010); on SQLite it is the
Python :func:`fold` registered on each connection, and customers' folded names are also
kept in an FTS5 index (migration 0015), whose word-prefix query answers the same
question without folding every name. Both databases give the same answers. Customers'
stored names are folded by ``sb_fold_name`` (:func:`fold_name`, migration 0016), which
adds the words punctuation joins run together, so ``obrien`` finds "O'Brien".
"""

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import connection
from django.db.models import (
    CharField,
    F,
    IntegerField,
    Model,
    Q,
    QuerySet,
    TextField,
    Transform,
    Value,
)
from django.db.models.expressions import Case, Col, RawSQL, When
from django.db.models.functions import Reverse, StrIndex
from django.db.models.lookups import GreaterThan

from crm.db import is_postgresql
from crm.phones import try_normalize

_M = TypeVar("_M", bound=Model)

# Letters that Unicode does not decompose into a base letter and an accent, folded as
# PostgreSQL's unaccent rules fold them, so both databases give the same answers.
_LETTERS = str.maketrans(
    {
        "ß": "ss",
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "þ": "th",
        "Þ": "th",
        "\u0131": "i",  # dotless i
    }
)
_WORD = re.compile(r"[^\W_]+")
_NUMBER_LIKE = re.compile(r"[\d\s().+\-/]+")
_EMAIL_PART = re.compile(r"[a-z0-9._%+\-]+")
# A search box is not a document: longer input is cut, and so are the words it holds.
MAX_TERM_LENGTH = 100
MAX_WORDS = 6
MIN_SUFFIX_DIGITS = 4
MIN_EMAIL_PART = 4

RANK_EXACT, RANK_NAME, RANK_PARTIAL = 0, 1, 2


# ASCII punctuation to spaces: the fast path of fold() for the names that need no
# Unicode work (SQLite calls fold() for every row it scans).
_ASCII_SPACES = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum()})


def fold(text: object) -> str:
    """``"Ana García-López"`` -> ``" ana garcia lopez"``: what ``sb_fold`` gives in SQL."""
    text = str(text or "")
    if text.isascii():
        return " " + " ".join(text.lower().translate(_ASCII_SPACES).split())
    text = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " " + " ".join(_WORD.findall(text))


# ASCII punctuation deleted (not made a space): the fast path of fold_name().
_ASCII_JOINS = str.maketrans(
    "", "", "".join(chr(c) for c in range(128) if not (chr(c).isalnum() or chr(c).isspace()))
)


def fold_name(text: object) -> str:
    """A person's name as searches read it: :func:`fold`, then, when punctuation joins
    words, the name with it deleted: ``"Seán O'Brien"`` -> ``" sean o brien sean obrien"``,
    so ``obrien`` and ``o'brien`` both find it, and ``garciaperez`` "García-Pérez"
    (docs/search.md). What ``sb_fold_name`` gives in SQL; the terms typed are folded with
    :func:`fold` only."""
    folded = fold(text)
    text = str(text or "")
    if text.isascii():
        joined = " " + " ".join(text.lower().translate(_ASCII_JOINS).split())
    else:
        text = unicodedata.normalize("NFKD", text.translate(_LETTERS))
        text = "".join(c for c in text if not unicodedata.combining(c)).lower()
        joined = " " + " ".join("".join(c for c in text if c.isalnum() or c.isspace()).split())
    return folded if joined == folded else folded + joined


# Columns PostgreSQL keeps folded itself (generated, stored; crm migration 0010, by
# ``sb_fold_name`` since 0016): ``(table, column) -> folded column``.
FOLDED_COLUMNS = {("crm_customer", "name"): "name_folded"}


class Fold(Transform):
    """``name__sb_fold__contains=" garc"``: the folded text, indexed on PostgreSQL."""

    function = "sb_fold"
    lookup_name = "sb_fold"
    output_field = CharField()

    def as_postgresql(
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, Any]:
        lhs = self.lhs
        target = getattr(lhs, "target", None)
        if isinstance(lhs, Col) and target is not None:
            folded = FOLDED_COLUMNS.get((target.model._meta.db_table, target.column))
            if folded is not None:
                sql, params = compiler.compile(lhs)  # '"crm_customer"."name"' or 'U0."name"'
                prefix = sql[: len(sql) - len(connection.ops.quote_name(target.column))]
                return prefix + connection.ops.quote_name(folded), params
        return self.as_sql(compiler, connection, **extra_context)


# Folded names SQLite keeps in an FTS5 table of their own (crm migration 0015, kept in step
# by triggers): ``(table, column) -> FTS table``. Its rowid is the row's key.
FTS_TABLES = {("crm_customer", "name"): "crm_customer_name_fts"}


def fts_match(words: Sequence[str]) -> str:
    """``("ana", "o bri")`` -> ``'"ana"* "o bri"*'``: every term starts a word (FTS5 ANDs
    them; a term of several words is a phrase whose last word is a prefix, as
    ``LIKE '% o bri%'``). Folded terms are letters, digits and spaces, so quoting is enough."""
    return " ".join(f'"{word}"*' for word in words)


CharField.register_lookup(Fold)
TextField.register_lookup(Fold)
CharField.register_lookup(Reverse)


def register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` hook: SQLite gets ``sb_fold`` as a Python function."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("sb_fold", 1, fold, deterministic=True)
        connection.connection.create_function("sb_fold_name", 1, fold_name, deterministic=True)


@dataclass(frozen=True)
class Query:
    """What a typed term may mean, read once."""

    text: str
    e164: str | None = None
    suffix: str | None = None  # the digits typed, when 4 or more and nothing else
    # Folded terms, each one word or several side by side ("o brien"); every one must
    # start a word of the name.
    words: tuple[str, ...] = ()
    email: str | None = None  # lower-cased: the whole term, when it may be part of one

    @property
    def empty(self) -> bool:
        return not (self.e164 or self.suffix or self.words or self.email)


def parse(term: object) -> Query:
    text = str(term or "").replace("\x00", "").strip()[:MAX_TERM_LENGTH]
    if not text:
        return Query(text="")
    if _NUMBER_LIKE.fullmatch(text):
        digits = re.sub(r"\D", "", text)
        e164 = try_normalize(text) if len(digits) >= 7 else None
        # A whole number found exactly; fewer digits are the end of a number.
        if e164 is not None:
            return Query(text=text, e164=e164)
        if len(digits) >= MIN_SUFFIX_DIGITS:
            return Query(text=text, suffix=digits)
        return Query(text=text)
    e164 = try_normalize(text) if any(c.isdigit() for c in text) else None
    # Each chunk typed between spaces is one term: its folded words side by side, so
    # "o'brien" is " o brien" (the name's words in that order, the last by its start),
    # "garcia-perez" finds "García-Pérez" and "García Pérez" but not "Pérez García".
    chunks = (" ".join(fold(chunk).split()) for chunk in text.split())
    words = tuple(chunk for chunk in chunks if chunk)[:MAX_WORDS]
    lowered = text.lower()
    # Part of an email: what addresses are made of ("o'brien" is a name: the trigram
    # index cannot use an apostrophe, and every "o.brien" address would be read for it).
    may_be_email = "@" in lowered or _EMAIL_PART.fullmatch(lowered) is not None
    email = lowered if may_be_email and " " not in text and len(text) >= MIN_EMAIL_PART else None
    return Query(text=text, e164=e164, words=words, email=email)


def suffix_q(field_name: str, digits: str) -> Q:
    """Numbers (E.164 text) ending in ``digits``. PostgreSQL reads it from an index on the
    reversed number (a prefix of it, migration 0010); SQLite scans, fast at its sizes."""
    if is_postgresql():
        return Q(**{f"{field_name}__reverse__startswith": digits[::-1]})
    return Q(**{f"{field_name}__endswith": digits})


def words_q(field_name: str, words: Sequence[str], model: type[Model] | None = None) -> Q:
    """Every word starts a word of the field (folded). On a column PostgreSQL keeps folded
    (customers' names), its statistics say which words the trigram index reads."""
    fts = _fts_table(model, field_name)
    if fts is not None:
        # One FTS5 lookup instead of folding every name in Python (0.2-1.5 s at 100k).
        sql = f"SELECT rowid FROM {fts} WHERE {fts} MATCH %s"  # noqa: S608  (a constant)
        return Q(pk__in=RawSQL(sql, [fts_match(words)]))  # noqa: S611  (the term a parameter)
    # Only customers' stored folded names: on leads the EXPLAIN cost what it saved
    # (docs/profiles/pages.md), and other tables' names are few.
    common: set[str] = set()
    if model is not None and _column_key(model, field_name) in FOLDED_COLUMNS:
        common = _common_words(model._default_manager.all(), field_name, words)
    condition = Q()
    for word in words:
        if word in common:
            # The same test, ``strpos`` instead of ``LIKE``: no index answers it, so it
            # is checked on the rows the rare words' index scan found.
            position = StrIndex(Fold(F(field_name)), Value(" " + word))
            condition &= Q(GreaterThan(position, 0))
        else:
            condition &= Q(**{f"{field_name}__sb_fold__contains": " " + word})
    return condition


# A word of a search term is left out of the trigram index scan when the planner expects
# it to match this many times more rows than the term's rarest word, itself at most
# RARE_WORD_ROWS: GIN reads the whole posting list of each of a word's trigrams, and
# "bulk" in "Bulk Customer 03346" is a million entries a trigram (150 ms for the three
# words, 4 ms for "03346" alone at 1M customers; docs/profiles/pages.md).
COMMON_WORD_FACTOR = 10
RARE_WORD_ROWS = 10_000


def _common_words(rows: QuerySet[Any], field_name: str, words: Sequence[str]) -> set[str]:
    """The words of a term common enough, beside its rarest, to be checked on the rare
    words' matches rather than read from the index (PostgreSQL; one EXPLAIN, no rows)."""
    if len(words) < 2 or not is_postgresql():
        return set()
    parts = [
        rows.filter(**{f"{field_name}__sb_fold__contains": " " + word}).order_by().values("pk")
        for word in words
    ]
    plan = json.loads(parts[0].union(*parts[1:], all=True).explain(format="json"))
    estimates = [int(part["Plan Rows"]) for part in plan[0]["Plan"]["Plans"]]
    if len(estimates) != len(words):  # a plan of another shape: ask the index for all
        return set()
    rarest = min(estimates)
    if rarest > RARE_WORD_ROWS:
        return set()
    return {
        word
        for word, rows_expected in zip(words, estimates, strict=True)
        if rows_expected >= COMMON_WORD_FACTOR * max(1, rarest)
    }


def _column_key(model: type[Model] | None, field_name: str) -> tuple[str, str] | None:
    """(table, column) of a model's own field, the key of FOLDED_COLUMNS and FTS_TABLES."""
    if model is None or "__" in field_name:
        return None
    column = getattr(model._meta.get_field(field_name), "column", None)
    return model._meta.db_table, str(column)


def _fts_table(model: type[Model] | None, field_name: str) -> str | None:
    if is_postgresql():
        return None
    key = _column_key(model, field_name)
    return FTS_TABLES.get(key) if key is not None else None


@dataclass(frozen=True)
class Fields:
    """Where a model keeps what the rule searches. ``holders`` reaches numbers kept in
    another table: ``(queryset of number rows, their number field, their link to the
    searched row's key)``, e.g. ``(PhoneNumber rows, "number", "customer_id")``."""

    names: Sequence[str] = ()
    emails: Sequence[str] = ()
    numbers: Sequence[str] = ()
    holders: tuple[QuerySet[Any], str, str] | None = None
    # Rows whose foreign key ``link`` points at what the rule finds in another table:
    # ``[("customer_id", customer queryset, its Fields)]``, e.g. calls by their customer's name.
    via: Sequence[tuple[str, QuerySet[Any], "Fields"]] = ()
    # When set, rows reached through ``via`` are looked up first, at most this many
    # keys per rank (newest first; fewer for a short answer, see :data:`VIA_KEYS_PER_ROW`),
    # and this table is then read by those keys: a table of millions (calls) is never
    # walked in its own order hoping to meet a rare customer.
    via_first: int | None = None


# Keys looked up through ``via_first`` for an answer of ``limit`` rows: five per row wanted
# (the header's 10 calls come from the 50 newest matching customers), at least 50.
VIA_KEYS_PER_ROW = 5


def via_keys(fields: Fields, limit: int | None) -> int | None:
    if fields.via_first is None:
        return None
    if limit is None:
        return fields.via_first
    return min(fields.via_first, max(50, VIA_KEYS_PER_ROW * limit))


def conditions(
    query: Query, fields: Fields, model: type[Model] | None = None, limit: int | None = None
) -> list[tuple[Q, int]]:
    """``[(condition, rank), ...]`` for this query on these fields (empty: nothing to find)."""
    found: list[tuple[Q, int]] = []

    def number_q(condition_for: Callable[[str], Q]) -> Q:
        condition = Q()
        for name in fields.numbers:
            condition |= condition_for(name)
        if fields.holders is not None:
            rows, number_field, link = fields.holders
            # ``pk IN (subquery)``: one index probe for the numbers, then the rows by key.
            condition |= Q(pk__in=rows.filter(condition_for(number_field)).values(link))
        return condition

    if query.e164 and (fields.numbers or fields.holders):
        e164 = query.e164
        found.append((number_q(lambda name: Q(**{name: e164})), RANK_EXACT))
    if query.suffix and (fields.numbers or fields.holders):
        suffix = query.suffix
        found.append((number_q(lambda name: suffix_q(name, suffix)), RANK_PARTIAL))
    if query.email:
        for name in fields.emails:
            found.append((Q(**{f"{name}__iexact": query.email}), RANK_EXACT))
            found.append((Q(**{f"{name}__icontains": query.email}), RANK_PARTIAL))
    if query.words:
        for name in fields.names:
            found.append((words_q(name, query.words, model), RANK_NAME))
    wanted = via_keys(fields, limit)
    for link, related, related_fields in fields.via:
        related_found = conditions(query, related_fields, related.model)
        if wanted is None:
            for condition, rank in related_found:
                found.append((Q(**{f"{link}__in": related.filter(condition).values("pk")}), rank))
            continue
        by_rank: dict[int, Q] = {}
        for condition, rank in related_found:
            by_rank[rank] = by_rank.get(rank, Q()) | condition
        sizes = dict.fromkeys(by_rank, wanted)
        for rank, keys in pks_by_rank(related, by_rank, ("-pk",), sizes).items():
            if keys:
                found.append((Q(**{f"{link}__in": keys}), rank))
    return found


# Short answers (the header search, /api/search/) are asked in one round trip where the
# database allows it: every rank's query, each with its own ORDER BY and LIMIT, in one
# UNION ALL. On a busy server a round trip cost more than these queries
# (docs/profiles/search.md); SQLite answers in-process, a query at a time.
ONE_TRIP_LIMIT = 100


def one_trip(limit: int, parts: int) -> bool:
    return (
        parts > 1
        and limit <= ONE_TRIP_LIMIT
        and connection.features.supports_slicing_ordering_in_compound
    )


def pks_by_rank(
    queryset: QuerySet[Any], by_rank: dict[int, Q], order: Sequence[Any], sizes: dict[int, int]
) -> dict[int, list[Any]]:
    """``{rank: [pk, ...]}``: at most ``sizes[rank]`` keys of each rank's rows, in ``order``;
    one query (a UNION ALL) when :func:`one_trip` allows, else one per rank."""
    ranks = sorted(by_rank)
    parts = [
        queryset.filter(by_rank[rank]).order_by(*order).values_list("pk", flat=True)
        for rank in ranks
    ]
    if not one_trip(max(sizes.values(), default=0), len(parts)):
        return {rank: list(part[: sizes[rank]]) for rank, part in zip(ranks, parts, strict=True)}
    tagged = [
        part.annotate(part_rank=Value(rank, output_field=IntegerField())).values_list(
            "pk", "part_rank"
        )[: sizes[rank]]
        for rank, part in zip(ranks, parts, strict=True)
    ]
    found: dict[int, list[Any]] = {rank: [] for rank in ranks}
    for pk, rank in tagged[0].union(*tagged[1:], all=True):
        found[rank].append(pk)
    return found


# A search answers at most this many rows, best first (four pages of 50): nobody pages
# past them, and a common word ("mar") can match a fifth of a million customers. The
# cost of a common word's first page grows with it: the newest-first walk reads about
# cap / share rows (37k for 500 Garcías at 1M customers; docs/profiles/search.md).
SEARCH_CAP = 200


def best(
    queryset: QuerySet[_M],
    query: Query | str,
    fields: Fields,
    *,
    limit: int = SEARCH_CAP,
    order: Sequence[Any] = ("-pk",),
) -> QuerySet[_M]:
    """The ``limit`` best rows, annotated with ``search_rank`` (order by it, then ``order``).

    Each rank is its own query, in ``order`` and LIMITed: PostgreSQL then either walks the
    ``order`` index until it has enough rows (a common word) or reads the few matches from
    the trigram/number indexes (a rare one), where ranking every match of one OR would sort
    them all. At most one query per rank, and one for the rows; a short answer on
    PostgreSQL asks every rank in one UNION ALL (:func:`one_trip`).
    """
    if isinstance(query, str):
        query = parse(query)
    by_rank: dict[int, Q] = {}
    for condition, rank in conditions(query, fields, queryset.model, limit):
        by_rank[rank] = by_rank.get(rank, Q()) | condition
    ranks: dict[Any, int] = {}
    at_once = one_trip(limit, len(by_rank))
    if at_once:
        # A rank's rows may repeat a better rank's: ask each for as many as could be needed.
        sizes = {rank: limit * (i + 1) for i, rank in enumerate(sorted(by_rank))}
        for rank, pks in sorted(pks_by_rank(queryset, by_rank, order, sizes).items()):
            for pk in pks:
                if pk not in ranks and len(ranks) < limit:
                    ranks[pk] = rank
    for rank in () if at_once else sorted(by_rank):
        if len(ranks) >= limit:
            break
        wanted = limit + len(ranks)  # rows found at a better rank may come again
        rows = queryset.filter(by_rank[rank]).order_by(*order).values_list("pk", flat=True)
        for pk in rows[:wanted]:
            if pk not in ranks and len(ranks) < limit:
                ranks[pk] = rank
    if not ranks:
        return _nothing(queryset)
    # The most common rank is the default: the database compares each row with the
    # other ranks' few keys only (a common surname is 200 rows of one rank, no CASE).
    counts = Counter(ranks.values())
    common = counts.most_common(1)[0][0]
    whens = [
        When(pk__in=[pk for pk, r in ranks.items() if r == rank], then=Value(rank))
        for rank in sorted(counts)
        if rank != common
    ]
    rank_value: Any = Value(common, output_field=IntegerField())
    if whens:
        rank_value = Case(*whens, default=rank_value, output_field=IntegerField())
    return queryset.filter(pk__in=list(ranks)).annotate(search_rank=rank_value)


def _nothing(queryset: QuerySet[_M]) -> QuerySet[_M]:
    # Annotated too, so the caller may order by the rank whatever was found.
    return queryset.none().annotate(search_rank=Value(RANK_PARTIAL, output_field=IntegerField()))


def rank_of(row: object) -> int:
    """A found row's ``search_rank`` (the annotation :func:`best` adds)."""
    return int(getattr(row, "search_rank", RANK_PARTIAL))


def ranked(queryset: QuerySet[_M], *then: str) -> QuerySet[_M]:
    return queryset.order_by("search_rank", *then)


def matched_text(query: Query, rank: int) -> str:
    """What a result answers to, in words (the API's ``matched``)."""
    if query.e164 and rank == RANK_EXACT:
        return "number"
    if query.suffix:
        return "last digits of a number"
    if rank == RANK_NAME:
        return "name"
    if query.email:
        return "email" if rank == RANK_EXACT else "part of an email"
    return "name"


# --- Kinds other apps register -------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    kind: str  # customer | lead | call | owned_number | ...
    id: int
    label: str
    matched: str
    rank: int
    url: str | None = None  # the admin page, for the results page
    detail: str = ""


# (query, user, limit) -> hits of one kind, ranked; never called for a user lacking
# ``permission``.
Finder = Callable[[Query, Any, int], list[Hit]]


@dataclass(frozen=True)
class SearchKind:
    kind: str
    title: str
    permission: str | None
    find: Finder
    order: int = 100
    # Whether a Caller (no staff access) may search this kind, through ``find``'s own
    # scope (the leads of their campaigns).
    for_callers: bool = False


@dataclass
class SearchRegistry:
    kinds: list[SearchKind] = field(default_factory=list)

    def add(self, kind: SearchKind) -> None:
        self.kinds[:] = [k for k in self.kinds if k.kind != kind.kind]
        self.kinds.append(kind)
        self.kinds.sort(key=lambda k: k.order)

    def for_user(self, user: Any) -> list[SearchKind]:
        if not user.is_authenticated:
            return []
        return [
            k
            for k in self.kinds
            if (k.permission is None or user.has_perm(k.permission))
            and (user.is_staff or k.for_callers)
        ]


search_registry = SearchRegistry()


def search_everything(
    *, term: str, user: Any, limit: int = 10
) -> tuple[Query, dict[str, list[Hit]]]:
    """Each kind this user may search, at most ``limit`` hits each, ranked."""
    query = parse(term)
    if query.empty:
        return query, {}
    return query, {k.kind: k.find(query, user, limit) for k in search_registry.for_user(user)}


def merged_hits(grouped: dict[str, list[Hit]], kinds: Iterable[SearchKind]) -> list[Hit]:
    """One ranked list: by rank, then kinds in the registry's order (customers first)."""
    order = {k.kind: i for i, k in enumerate(kinds)}
    hits = [hit for group in grouped.values() for hit in group]
    return sorted(hits, key=lambda h: (h.rank, order.get(h.kind, 99)))
