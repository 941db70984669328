from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from crm import demo

SWITCHBOARD_APPS = ("crm", "telephony", "reputation", "campaigns")


class Command(BaseCommand):
    help = (
        "Load demo data (idempotent): role users, customers with mixed number types and, "
        "from each app's demo module, calls, campaigns and numbers. "
        "--customers N bulk-loads N extra customers for benchmarks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers",
            type=int,
            default=0,
            help="Make sure N bulk customers exist (COPY on PostgreSQL).",
        )
        parser.add_argument("--no-users", action="store_true", help="Skip the demo login users.")

    def handle(self, *args: object, **options: object) -> None:
        # Users first: apps' demo data may assign them (e.g. the caller to a campaign).
        logins = [] if options["no_users"] else demo.ensure_users(demo.credentials_path())
        # Each app may ship a ``demo`` module with ``seed(stdout)``; found like admin.py
        # autodiscovery so crm never imports the apps built on top of it.
        for app_config in apps.get_app_configs():
            if app_config.name not in SWITCHBOARD_APPS:
                continue
            module_name = f"{app_config.name}.demo"
            if find_spec(module_name) is not None:
                import_module(module_name).seed(self.stdout)

        total = int(options["customers"])  # type: ignore[call-overload]
        if total:
            added = demo.ensure_bulk_customers(
                total, progress=lambda n: self.stdout.write(f"  … {n:,} customers written")
            )
            self.stdout.write(f"crm: {added:,} bulk customers added (target {total:,}).")

        if not options["no_users"]:
            self.stdout.write("")
            # The address `make run` serves: runserver binds 127.0.0.1 on PORT.
            base = f"http://127.0.0.1:{settings.PORT}"
            self.stdout.write(self.style.SUCCESS(f"Log in at {base}/admin/ as:"))
            for username, role, password in logins:
                self.stdout.write(f"  {role:<14} {username:<8} password: {password}")
            self.stdout.write(f"Callers log in at {base}/campaigns/login/")
