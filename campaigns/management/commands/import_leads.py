from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns import selectors, services
from campaigns.ingest import headers
from campaigns.models import Campaign, LeadUpload


class Command(BaseCommand):
    help = (
        "Import a leads CSV into a campaign now (the same import as an admin upload), "
        "printing progress and the receipt."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("path", type=Path)
        parser.add_argument("--user", help="Username recorded as the uploader.")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="HEADER=FIELD",
            help="Read the column HEADER as FIELD (one of: "
            + ", ".join(value for value, _ in headers.CHOICES)
            + "); repeatable. Other columns are read by their header.",
        )

    def handle(self, *args: object, **options: object) -> None:
        campaign = Campaign.objects.filter(pk=int(str(options["campaign_id"]))).first()
        if campaign is None:
            raise CommandError(f"There is no campaign {options['campaign_id']}.")
        path = Path(str(options["path"]))
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        user = None
        if options.get("user"):
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"There is no user {options['user']}.")
        mapping = _mapping(list(options["map"]))  # type: ignore[call-overload]
        with path.open("rb") as handle:
            try:
                upload = services.lead_upload_create(
                    campaign=campaign,
                    file=File(handle, name=path.name),
                    uploaded_by=user,
                    mapping=mapping,
                )
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Upload #{upload.pk}: {path.name} ({upload.size:,} bytes)")

        def progress(current: LeadUpload) -> None:
            self.stdout.write(
                f"  {current.percent:3d}%  {current.rows_read:,} rows read, "
                f"{current.rows_rejected:,} rejected — {current.phase}"
            )

        try:
            upload = services.lead_upload_import(upload_id=upload.pk, progress=progress)
        except Exception:
            # Logged, and the upload marked failed with nothing imported: say so plainly.
            upload.refresh_from_db()
            if upload.status != LeadUpload.State.FAILED:
                raise
        for line in selectors.lead_upload_receipt_lines(upload):
            self.stdout.write(line)
        if upload.status == LeadUpload.State.FAILED:
            raise CommandError(upload.error)


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        header, equals, target = pair.rpartition("=")
        if not equals or not header.strip():
            raise CommandError(
                f"--map {pair!r}: write it as HEADER=FIELD, e.g. 'Business Phone=phone'."
            )
        mapping[header.strip()] = target.strip()
    return mapping
