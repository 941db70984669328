import pytest
from django.contrib.auth.models import Group

from crm import roles

pytestmark = pytest.mark.django_db


def test_the_data_migration_made_the_three_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "Administrator",
        "Agent",
        "Caller",
    }


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        ("Administrator", "crm.change_customer", True),
        ("Administrator", "auth.change_user", True),
        ("Administrator", "django_celery_beat.change_periodictask", True),
        ("Agent", "crm.view_customer", True),
        ("Agent", "crm.change_customer", True),
        ("Agent", "crm.change_phonenumber", True),
        ("Agent", "crm.view_phonenumberchange", True),
        ("Agent", "crm.delete_customer", False),
        ("Agent", "auth.change_user", False),
        ("Agent", "django_celery_beat.change_periodictask", False),
        ("Caller", "crm.view_customer", False),
        ("Caller", "crm.change_phonenumber", False),
        ("Caller", "auth.view_user", False),
    ],
)
def test_role_matrix(make_user, role, permission, allowed):
    user = make_user(role)
    assert user.has_perm(permission) is allowed


def test_only_administrators_and_agents_are_staff(administrator, agent, caller):
    assert (administrator.is_staff, agent.is_staff, caller.is_staff) == (True, True, False)
    assert roles.STAFF_ROLES == {"Administrator", "Agent"}
