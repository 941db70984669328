"""API permissions: the model permissions DRF checks, and the caller's permissions read
in one statement."""

from collections.abc import Iterable
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from rest_framework.permissions import DjangoModelPermissions


class DjangoModelPermissionsWithView(DjangoModelPermissions):
    """Model permissions where reading needs ``view_<model>``, as in the admin.

    DRF's default lets any authenticated user read; the role matrix says otherwise.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


@cache
def _permission_sources(user_id: str) -> tuple[str, str]:
    """The ``FROM ... WHERE`` of a user's own permissions and of their groups', each row a
    permission (``ct`` its content type, ``p`` itself); ``user_id`` is SQL: a placeholder,
    or the user's id column in a statement reading the user."""
    quote = connection.ops.quote_name
    user_perms: Any = get_user_model()._meta.get_field("user_permissions")
    user_groups: Any = get_user_model()._meta.get_field("groups")
    group_perms: Any = Group._meta.get_field("permissions")
    names = (
        f"FROM {quote(ContentType._meta.db_table)} ct JOIN {quote(Permission._meta.db_table)} p "
        f"ON p.{quote('content_type_id')} = ct.{quote('id')}"
    )
    own = (
        f"{names} JOIN {quote(user_perms.m2m_db_table())} up "
        f"ON up.{quote(user_perms.m2m_reverse_name())} = p.{quote('id')} "
        f"WHERE up.{quote(user_perms.m2m_column_name())} = {user_id}"
    )
    groups = (
        f"{names} JOIN {quote(group_perms.m2m_db_table())} gp "
        f"ON gp.{quote(group_perms.m2m_reverse_name())} = p.{quote('id')} "
        f"JOIN {quote(user_groups.m2m_db_table())} ug "
        f"ON ug.{quote(user_groups.m2m_reverse_name())} "
        f"= gp.{quote(group_perms.m2m_column_name())} "
        f"WHERE ug.{quote(user_groups.m2m_column_name())} = {user_id}"
    )
    return own, groups


@cache
def _permissions_sql() -> str:
    quote = connection.ops.quote_name
    own, groups = _permission_sources("%s")
    columns = f"ct.{quote('app_label')}, p.{quote('codename')}"
    return f"SELECT 'user', {columns} {own} UNION ALL SELECT 'group', {columns} {groups}"


@cache
def permissions_columns_sql(user_id: str) -> str:
    """Two columns to read with a user's row on PostgreSQL (``user_id``: its id column,
    quoted): their own and their groups' permissions as arrays of ``app_label.codename``,
    NULL for users ModelBackend answers without them (inactive users and superusers), so
    one statement reads the user and what ``permissions_load`` would (crm/auth.py)."""
    quote = connection.ops.quote_name
    own, groups = _permission_sources(user_id)
    user_model = get_user_model()._meta
    table = quote(user_model.db_table)
    name = f"ct.{quote('app_label')} || '.' || p.{quote('codename')}"
    applies = (
        f"{table}.{quote(user_model.get_field('is_active').column)} "
        f"AND NOT {table}.{quote(user_model.get_field('is_superuser').column)}"
    )
    return (
        f"CASE WHEN {applies} THEN ARRAY(SELECT {name} {own}) END, "
        f"CASE WHEN {applies} THEN ARRAY(SELECT {name} {groups}) END"
    )


def permissions_put(user: Any, own: Iterable[str] | None, groups: Iterable[str] | None) -> None:
    """Put permissions read by ``permissions_columns_sql`` where ModelBackend keeps them
    for the request; NULL (a user it answers without them) puts nothing."""
    if own is None or groups is None:
        return
    user._user_perm_cache = set(own)
    user._group_perm_cache = set(groups)


def permissions_load(user: Any) -> None:
    """Read ``user``'s own and groups' permissions in one statement, into the caches
    Django's ModelBackend keeps on the user for the request (``_user_perm_cache``,
    ``_group_perm_cache``), instead of its two queries, each built by the ORM on every
    request (docs/profiles/dialing.md). ``has_perm`` then answers exactly as before;
    superusers, inactive or anonymous users, and users whose permissions are already
    read, are left to ModelBackend (it reads nothing for them, or all permissions)."""
    if (
        not user.is_authenticated
        or not user.is_active
        or user.is_superuser
        or hasattr(user, "_user_perm_cache")
        or hasattr(user, "_group_perm_cache")
    ):
        return
    found: dict[str, set[str]] = {"user": set(), "group": set()}
    with connection.cursor() as cursor:
        cursor.execute(_permissions_sql(), [user.pk, user.pk])
        for source, app_label, codename in cursor.fetchall():
            found[source].add(f"{app_label}.{codename}")
    permissions_put(user, found["user"], found["group"])
