"""API permissions: the model permissions DRF checks, and the caller's permissions read
in one statement."""

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
def _permissions_sql() -> str:
    quote = connection.ops.quote_name
    user_perms: Any = get_user_model()._meta.get_field("user_permissions")
    user_groups: Any = get_user_model()._meta.get_field("groups")
    group_perms: Any = Group._meta.get_field("permissions")
    names = (
        f"{quote(ContentType._meta.db_table)} ct JOIN {quote(Permission._meta.db_table)} p "
        f"ON p.{quote('content_type_id')} = ct.{quote('id')}"
    )
    columns = f"ct.{quote('app_label')}, p.{quote('codename')}"
    return (
        f"SELECT 'user', {columns} FROM {names} "  # noqa: S608 (identifiers from _meta)
        f"JOIN {quote(user_perms.m2m_db_table())} up "
        f"ON up.{quote(user_perms.m2m_reverse_name())} = p.{quote('id')} "
        f"WHERE up.{quote(user_perms.m2m_column_name())} = %s "
        f"UNION ALL SELECT 'group', {columns} FROM {names} "
        f"JOIN {quote(group_perms.m2m_db_table())} gp "
        f"ON gp.{quote(group_perms.m2m_reverse_name())} = p.{quote('id')} "
        f"JOIN {quote(user_groups.m2m_db_table())} ug "
        f"ON ug.{quote(user_groups.m2m_reverse_name())} "
        f"= gp.{quote(group_perms.m2m_column_name())} "
        f"WHERE ug.{quote(user_groups.m2m_column_name())} = %s"
    )


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
    user._user_perm_cache = found["user"]
    user._group_perm_cache = found["group"]
