"""Admin changelist speed at 1M+ customers (target: p95 < 100 ms, no COUNT(*) unfiltered).

Builds N customers with numbers on PostgreSQL (COPY; skipped when already there), then
times the Customer changelist as an agent sees it: first page, a deep page, search by a
number typed loosely, search by a name prefix. Each is compared with Django's default
changelist (a full COUNT(*) on every page) measured in the same run.

    .venv/bin/python bench/admin_changelist.py [--customers 1000000] [--rounds 15]
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import describe, percentile, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    setup_django()

    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings
    from django.urls import path

    from crm import demo
    from crm.admin import CustomerAdmin
    from crm.models import Customer

    started = time.perf_counter()
    added = demo.ensure_bulk_customers(args.customers)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE crm_customer")
        cursor.execute("VACUUM ANALYZE crm_phonenumber")
        cursor.execute("SELECT count(*) FROM crm_customer")
        total = cursor.fetchone()[0]
    print(f"data: {total:,} customers ({added:,} added in {time.perf_counter() - started:.1f} s)")

    # Baseline: the stock changelist on a private admin site, same model, same queryset.
    class DefaultCustomerAdmin(admin.ModelAdmin):
        list_display = CustomerAdmin.list_display
        search_fields = ("name", "email", "phone_numbers__number")
        list_per_page = 50

        def numbers(self, obj: Customer) -> str:
            return ", ".join(str(p.number) for p in obj.phone_numbers.all())

        def display_name(self, obj: Customer) -> str:
            return str(obj)

        def get_queryset(self, request):  # type: ignore[no-untyped-def]
            return super().get_queryset(request).filter(merged_into__isnull=True)

    baseline_site = admin.AdminSite(name="baseline")
    baseline_site.register(Customer, DefaultCustomerAdmin)

    import crm.urls

    urlpatterns = [path("baseline/", baseline_site.urls), *crm.urls.urlpatterns]
    module = type(sys)("bench_urls")
    module.urlpatterns = urlpatterns  # type: ignore[attr-defined]
    sys.modules["bench_urls"] = module

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    deep_page = max(1, total // 50 // 2)
    target = Customer.objects.filter(email__endswith="@bulk.example.com").order_by("id")[total // 3]
    mobile = target.phone_numbers.filter(type="mobile").values_list("number", flat=True)[0]
    loose = f"({str(mobile)[2:5]})-{str(mobile)[5:8]} {str(mobile)[8:]}"
    cases = [
        ("first page", {}),
        (f"deep page (p={deep_page:,})", {"p": deep_page}),
        (f"number search {loose!r}", {"q": loose}),
        (f"name prefix search {target.name[:-2]!r}", {"q": target.name[:-2]}),
    ]

    headline = {}
    with override_settings(ROOT_URLCONF="bench_urls", DEBUG=False):
        for label, params in cases:
            results = {}
            for site, url in (
                ("switchboard", "/admin/crm/customer/"),
                ("default", "/baseline/crm/customer/"),
            ):
                client.get(url, params)  # warm caches and connections
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
                results[site] = (samples, queries, counts, rows)
                print(
                    f"{label:<44} {site:<11} {describe(samples)}  queries {queries}  "
                    f"COUNT(*) {counts}  rows {rows}"
                )
            ours, base = results["switchboard"][0], results["default"][0]
            print(
                f"{'':<44} speed-up vs default: {percentile(base, 50) / percentile(ours, 50):.1f}x"
            )
            headline[label.split(" ")[0]] = percentile(ours, 95)

    worst = max(v for k, v in headline.items() if k != "number")
    print(
        f"HEADLINE: {total:,} customers: changelist p95 worst {worst:.1f} ms (target < 100), "
        f"number search p95 {headline['number']:.1f} ms (target < 20)"
    )


if __name__ == "__main__":
    main()
