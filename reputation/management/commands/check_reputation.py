from typing import Any

from django.core.management.base import BaseCommand, CommandError

from reputation import services
from reputation.models import DailyCheckRun
from telephony.selectors import team_today


class Command(BaseCommand):
    help = (
        "Run today's reputation check of every monitored number now (once a day: a second "
        "run checks nothing). --force checks every number again today, with fresh data."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Check again today (fresh, possibly billed)."
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        done_before = DailyCheckRun.objects.filter(
            day=team_today(), forced=False, state=DailyCheckRun.State.DONE
        ).first()
        run = services.daily_check_run(force=force)
        if run is None:
            raise CommandError(
                "Nothing checked: the add-on is off, or another worker is running today's check."
            )
        if done_before is not None and not force:
            self.stdout.write(
                f"Today's check already ran ({run.numbers_checked} numbers checked); nothing "
                "checked now. Use --force to check again."
            )
            return
        self.stdout.write(
            f"{'Forced' if force else 'Daily'} check {run.day}: {run.numbers_checked} checked, "
            f"{run.numbers_failed} could not be checked, {run.requests} requests, "
            f"{run.turned_spam} turned SPAM ({run.get_state_display()})."
        )
