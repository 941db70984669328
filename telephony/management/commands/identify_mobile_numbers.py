"""identify_mobile_numbers [--dry-run] [--concurrency N]: the identification backfill, now.

Runs (or resumes) the backfill in this process with a progress bar; ``--dry-run`` prints
what it would look up and spend, and spends nothing (docs/identification.md).
"""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from telephony.identification import ledger, selectors, services
from telephony.models import BackfillRun, OrchestrationSettings


class Command(BaseCommand):
    help = "Look up the carrier line type of the numbers whose type could change, now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Print the count and cost; spend nothing."
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="Lookups in flight at most (default: LINE_TYPE_LOOKUP_CONCURRENCY).",
        )

    def handle(self, *args: Any, dry_run: bool, concurrency: int | None, **options: Any) -> None:
        if concurrency is not None and not 1 <= concurrency <= 500:
            raise CommandError("--concurrency must be between 1 and 500.")
        config = OrchestrationSettings.load()
        price = ledger.provider_price(ledger.line_type_provider())
        if dry_run:
            plan = selectors.backfill_plan(config=config, price=price)
            allows = selectors.lookups_the_cap_allows(config=config, price=price)
            self.stdout.write(
                f"Numbers whose type could change: {plan.numbers:,}\n"
                f"Answered within {config.lookup_cache_days} days (free): {plan.cached:,}\n"
                f"Lookups: {plan.lookups:,} at ${price} = ${plan.cost:.2f}\n"
                + (f"The monthly cap allows {allows:,} lookups.\n" if allows is not None else "")
                + "Dry run: nothing was looked up or spent."
            )
            return
        if not config.mobile_identification:
            raise CommandError(
                "Mobile Phone Number Identification is off (admin > Orchestration): "
                "switch it on first."
            )
        run = services.backfill_start(trigger=BackfillRun.Trigger.COMMAND)
        self.stdout.write(
            f"Backfill #{run.pk}: {run.planned_numbers:,} numbers, about "
            f"{run.planned_lookups:,} lookups (${run.planned_cost:.2f}) with "
            f"{concurrency or 'the default number of'} lookups in flight."
        )
        bar = ProgressBar(self.stderr)
        run = services.backfill_run(run_id=run.pk, concurrency=concurrency, progress=bar)
        bar.close()
        self.stdout.write(
            f"{run.get_status_display()}: {run.numbers_done:,} numbers, {run.lookups:,} "
            f"lookups, {run.answered_from_cache:,} from the cache, {run.turned_mobile:,} "
            f"turned Mobile, {run.failed:,} failed, ${run.spent:.2f} spent."
            + (f" {run.message}" if run.message else "")
        )
        if run.status == BackfillRun.Status.RUNNING:
            self.stdout.write("Another worker is running this backfill; it goes on there.")


class ProgressBar:
    """A one-line bar on stderr (a terminal rewrites it; a log gets a line per update)."""

    WIDTH = 30

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()

    def __call__(self, run: BackfillRun) -> None:
        total = max(run.planned_numbers, run.numbers_done, 1)
        filled = int(self.WIDTH * run.numbers_done / total)
        line = (
            f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {run.numbers_done:,}/{total:,} "
            f"mobile {run.turned_mobile:,} spent ${run.spent:.2f}"
        )
        self.stream.write(("\r" + line) if self.tty else line, ending="" if self.tty else "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("")
