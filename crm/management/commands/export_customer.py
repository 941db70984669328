import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from crm import selectors
from crm.models import Customer


class Command(BaseCommand):
    help = (
        "Print everything held about one customer as JSON (the right of access): the "
        "profile, profiles merged into it, numbers, their history, and each app's part "
        "(calls, messages, campaign leads)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer_id", type=int)

    def handle(self, *args: object, **options: object) -> None:
        customer_id = int(str(options["customer_id"]))
        try:
            customer = Customer.objects.get(pk=customer_id)
        except Customer.DoesNotExist as exc:
            raise CommandError(f"No customer #{customer_id}.") from exc
        data = selectors.customer_export(customer)
        self.stdout.write(json.dumps(data, cls=DjangoJSONEncoder, indent=2, default=str))
