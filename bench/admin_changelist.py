"""Admin changelists at 1M+ customers (target: p95 < 100 ms, no COUNT(*) unfiltered).

Builds N customers with numbers on PostgreSQL (COPY; skipped when already there: about
1.5 numbers each), then times two lists as an Administrator sees them: Customers (first
page, a deep page, a number typed loosely, a name prefix) and their Phone numbers (first
page, a deep page, a number typed loosely). Each is compared with Django's stock
changelist of the same model measured in the same run: the same columns and queryset, a
full COUNT(*) on every page (twice when searched), ``search_fields`` as icontains.

    .venv/bin/python bench/admin_changelist.py [--customers 1000000] [--rounds 15]
    ... --profile    # also: cProfile of our Customers first page, then its queries

Last line: the headline.
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import describe, percentile, setup_django, show_profile


def baseline_site() -> Any:
    """Stock Django admins for Customer and PhoneNumber on a private site: the same
    columns as ours (model fields where ours are admin methods), no estimated counts."""
    from django.contrib import admin
    from django.db.models import Prefetch

    from crm.models import Customer, PhoneNumber

    # Each baseline shows as many rows a page as our admin of the same list, so the same
    # deep page number is the same position in both.
    ours = admin.site._registry

    class DefaultCustomerAdmin(admin.ModelAdmin):
        list_display = (
            "display_name",
            "email",
            "numbers",
            "source",
            "interaction_count",
            "last_interaction_at",
            "created_at",
        )
        list_filter = ("source", "created_at", "last_interaction_at")
        search_fields = ("name", "email", "phone_numbers__number")
        list_per_page = ours[Customer].list_per_page

        def get_queryset(self, request):  # type: ignore[no-untyped-def]
            # What a careful default admin does: hide merged profiles, one prefetch for
            # the page's numbers (not one query a row).
            return (
                super()
                .get_queryset(request)
                .filter(merged_into__isnull=True)
                .prefetch_related(
                    Prefetch("phone_numbers", queryset=PhoneNumber.objects.order_by("id"))
                )
            )

        @admin.display(description="Name")
        def display_name(self, obj: Customer) -> str:
            return str(obj)

        @admin.display(description="Numbers")
        def numbers(self, obj: Customer) -> str:
            return ", ".join(str(p.number) for p in obj.phone_numbers.all())

    class DefaultPhoneNumberAdmin(admin.ModelAdmin):
        list_display = ("number", "type", "sms", "sms_opted_out", "customer", "type_source")
        list_filter = ("type", "sms", "sms_opted_out", "type_source")
        list_select_related = ("customer",)
        search_fields = ("number",)
        list_per_page = ours[PhoneNumber].list_per_page

    from django.http import HttpResponse
    from django.urls import path

    class BaselineSite(admin.AdminSite):
        # Our header (templates/admin/base_site.html) links these; never visited here.
        def get_urls(self) -> list:
            return [
                *(
                    path(f"{name}/", lambda request: HttpResponse(), name=name)
                    for name in ("search", "api_tokens", "preferences")
                ),
                *super().get_urls(),
            ]

    site = BaselineSite(name="baseline")
    site.register(Customer, DefaultCustomerAdmin)
    site.register(PhoneNumber, DefaultPhoneNumberAdmin)
    return site


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15, help="renders of each page")
    parser.add_argument("--profile", action="store_true", help="cProfile our first page")
    parser.add_argument("--top", type=int, default=40, help="functions shown by --profile")
    args = parser.parse_args()
    setup_django()

    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings
    from django.urls import path

    from crm import demo
    from crm.models import Customer, PhoneNumber

    started = time.perf_counter()
    added = demo.ensure_bulk_customers(args.customers)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE crm_customer")
        cursor.execute("VACUUM ANALYZE crm_phonenumber")
        cursor.execute("SELECT count(*) FROM crm_customer")
        total = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM crm_phonenumber")
        phones = cursor.fetchone()[0]
    print(
        f"data: {total:,} customers, {phones:,} numbers "
        f"({added:,} customers added in {time.perf_counter() - started:.1f} s)"
    )

    import crm.urls

    module = type(sys)("bench_urls")
    module.urlpatterns = [path("baseline/", baseline_site().urls), *crm.urls.urlpatterns]  # type: ignore[attr-defined]
    sys.modules["bench_urls"] = module

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    target = Customer.objects.filter(email__endswith="@bulk.example.com").order_by("id")[total // 3]
    mobile = str(target.phone_numbers.filter(type="mobile").values_list("number", flat=True)[0])
    loose = f"({mobile[2:5]})-{mobile[5:8]} {mobile[8:]}"
    # The middle page of each list, at the page size its admin shows.
    per_page = {
        model: admin.site._registry[model].list_per_page for model in (Customer, PhoneNumber)
    }
    deep_customers = max(1, total // per_page[Customer] // 2)
    deep_numbers = max(1, phones // per_page[PhoneNumber] // 2)
    lists = [
        (
            "customers",
            "crm/customer/",
            [
                ("first page", {}),
                (f"deep page (p={deep_customers:,})", {"p": deep_customers}),
                (f"number search {loose!r}", {"q": loose}),
                (f"name prefix search {target.name[:-2]!r}", {"q": target.name[:-2]}),
            ],
        ),
        (
            "numbers",
            "crm/phonenumber/",
            [
                ("first page", {}),
                (f"deep page (p={deep_numbers:,})", {"p": deep_numbers}),
                (f"number search {loose!r}", {"q": loose}),
            ],
        ),
    ]

    worst: dict[str, tuple[float, str]] = {}
    counts_unfiltered = 0
    with override_settings(ROOT_URLCONF="bench_urls", DEBUG=False):
        for name, route, cases in lists:
            for label, params in cases:
                results = {}
                for site, url in (("ours", f"/admin/{route}"), ("default", f"/baseline/{route}")):
                    response = client.get(url, params)  # warm caches and connections
                    assert response.status_code == 200, (url, response.status_code)
                    samples, queries, counts = [], 0, 0
                    for _ in range(args.rounds):
                        with CaptureQueriesContext(connection) as ctx:
                            t0 = time.perf_counter()
                            response = client.get(url, params)
                            samples.append((time.perf_counter() - t0) * 1000)
                        assert response.status_code == 200, (url, response.status_code)
                        queries = len(ctx.captured_queries)
                        counts = sum("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)
                    rows = response.content.count(b'name="_selected_action"')
                    results[site] = samples
                    if site == "ours" and not params.get("q"):
                        counts_unfiltered += counts
                    print(
                        f"{name + ': ' + label:<48} {site:<8} {describe(samples)}  "
                        f"queries {queries}  COUNT(*) {counts}  rows {rows}"
                    )
                ours, base = results["ours"], results["default"]
                speedup = percentile(base, 50) / percentile(ours, 50)
                print(
                    f"{'':<48} ours vs default: median {speedup:.1f}x faster, "
                    f"p95 {percentile(ours, 95):.1f} vs {percentile(base, 95):.1f} ms"
                )
                p95 = percentile(ours, 95)
                if name not in worst or p95 > worst[name][0]:
                    worst[name] = (p95, label)
        if args.profile:
            show_profile(client, "/admin/crm/customer/", args.top)

    summary = "; ".join(
        f"{name} p95 worst {ms:.1f} ms ({label})" for name, (ms, label) in worst.items()
    )
    print(
        f"HEADLINE: {total:,} customers / {phones:,} numbers: {summary}; COUNT(*) on "
        f"unfiltered pages: {counts_unfiltered} (target p95 < 100 ms, no COUNT(*) unfiltered)"
    )


if __name__ == "__main__":
    main()
