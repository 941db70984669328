"""The suite's own rules (tests/conftest.py, tests/databases.py): what a flush keeps, and
which tests each run skips."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command

from crm import roles
from crm.models import Customer
from tests import conftest


@pytest.mark.django_db(transaction=True)
def test_a_flush_keeps_what_only_migrations_write_and_empties_the_rest():
    Customer.objects.create(name="Dana Reyes")
    permissions, content_types = Permission.objects.count(), ContentType.objects.count()

    call_command("flush", interactive=False, verbosity=0)

    assert not Customer.objects.exists()
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLE_PERMISSIONS)
    assert Group.objects.get(name=roles.ADMINISTRATOR).permissions.exists()
    assert (Permission.objects.count(), ContentType.objects.count()) == (
        permissions,
        content_types,
    )


class _Item:
    """What the collection hook reads of a collected test."""

    def __init__(self, markers: tuple[str, ...], fixtures: tuple[str, ...] = ()) -> None:
        self.nodeid = "tests/x.py::test_x"
        self.keywords = dict.fromkeys(markers, True)
        self.fixturenames = list(fixtures)
        self.added: list[pytest.MarkDecorator] = []

    def get_closest_marker(self, name: str) -> object | None:
        return True if name in self.keywords else None

    def add_marker(self, marker: pytest.MarkDecorator) -> None:
        self.added.append(marker)


def _skipped(item: _Item) -> str | None:
    return next((m.kwargs["reason"] for m in item.added if m.name == "skip"), None)


@pytest.mark.database_free
def test_a_database_free_test_that_asks_for_the_database_is_refused_at_collection():
    with pytest.raises(pytest.UsageError, match="database_free but uses the database"):
        conftest.pytest_collection_modifyitems(None, [_Item(("database_free",), ("db",))])
    with pytest.raises(pytest.UsageError):
        conftest.pytest_collection_modifyitems(None, [_Item(("database_free", "django_db"))])


@pytest.mark.database_free
@pytest.mark.parametrize(
    ("url", "free", "postgresql_only"),
    [
        ("postgres://u@h/db", conftest.DATABASE_FREE_REASON, None),
        ("sqlite:///x.sqlite3", None, "needs PostgreSQL (set DATABASE_URL)"),
    ],
)
def test_each_run_skips_only_the_other_runs_tests(monkeypatch, url, free, postgresql_only):
    monkeypatch.setenv("DATABASE_URL", url)
    items = [_Item(("database_free",)), _Item(("postgresql",)), _Item(())]
    conftest.pytest_collection_modifyitems(None, items)
    assert [_skipped(item) for item in items] == [free, postgresql_only, None]
