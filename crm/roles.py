"""The role matrix (docs/product.md, "Roles") as data: one place says which group may do what.

Patterns are ``app_label.codename`` with shell wildcards. Data migrations apply it
(``sync_roles``), so each app that adds models adds a migration that calls it again.
"""

from fnmatch import fnmatch
from typing import Any

ADMINISTRATOR = "Administrator"
AGENT = "Agent"
CALLER = "Caller"

ROLE_PERMISSIONS: dict[str, list[str]] = {
    ADMINISTRATOR: [
        "crm.*",
        "telephony.*",
        "reputation.*",
        "campaigns.*",
        "auth.*",
        "authtoken.*",
        "django_celery_beat.*",
        # Login throttling: Administrators see and delete access attempts (unlock).
        "axes.*",
    ],
    AGENT: [
        "crm.view_customer",
        "crm.add_customer",
        "crm.change_customer",
        "crm.view_phonenumber",
        "crm.add_phonenumber",
        "crm.change_phonenumber",
        "crm.delete_phonenumber",
        "crm.view_phonenumberchange",
        "crm.view_matchsuggestion",
        "crm.change_matchsuggestion",
        "crm.view_customermerge",
        # Notes: anyone who works on profiles writes them; only the author edits one
        # (crm/services.py note_edit).
        "crm.view_note",
        "crm.add_note",
        "crm.change_note",
        "telephony.view_call",
        "telephony.view_message",
        "telephony.view_assistant",
        "telephony.view_frequentcaller",
        # Missed calls and voicemails: Agents work through the list (docs/voice.md).
        "telephony.view_missedcall",
        "telephony.handle_call",
        # SMS replies and the inbox (docs/messaging.md).
        "telephony.send_message",
        "telephony.view_conversation",
        "telephony.change_conversation",
    ],
    CALLER: [
        "campaigns.view_campaign",
        "campaigns.view_account",
        "campaigns.view_contact",
        "campaigns.view_campaignphone",
        "campaigns.view_disposition",
        "campaigns.add_disposition",
        "campaigns.work_campaign",
        "campaigns.view_outcome",
        "campaigns.view_callattempt",
        "campaigns.add_callattempt",
        "campaigns.view_donotcallnumber",
    ],
}

# Administrators are staff (admin site); agents are staff too; callers work in /campaigns/.
STAFF_ROLES = {ADMINISTRATOR, AGENT}


def sync_roles(apps: Any, schema_editor: Any = None) -> None:
    """Create the groups and give each exactly the permissions its patterns match.

    Usable as a ``RunPython`` callable. Permissions are created first: Django makes them
    in ``post_migrate``, which has not run yet inside a migration.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    all_permissions = list(
        Permission.objects.select_related("content_type").values_list(
            "id", "content_type__app_label", "codename"
        )
    )
    for role, patterns in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = [
            pk
            for pk, app_label, codename in all_permissions
            if any(fnmatch(f"{app_label}.{codename}", pattern) for pattern in patterns)
        ]
        group.permissions.set(wanted)


def noop(apps: Any, schema_editor: Any) -> None:
    """Reverse of ``sync_roles``: groups stay, so rolling back loses nobody's access."""
