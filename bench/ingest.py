"""Lead ingest, end to end: a 1M-row CSV with two messy numbers per row.

Generates the file once, then per round: raw COPY of the same file into a scratch table
(the floor), and `manage.py import_leads` into a fresh campaign in a child process
(validated end to end: parse, normalise both numbers, stage, merge, counts, receipt).
Prints each round, then medians; the last line is the headline.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/switchboard .venv/bin/python bench/ingest.py
"""

import argparse
import csv
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, setup_django

setup_django()  # Django on PostgreSQL, migrated

from django.db import connection  # noqa: E402

from campaigns import services  # noqa: E402
from campaigns.ingest.partitions import drop_partition  # noqa: E402
from campaigns.models import Campaign, LeadUpload  # noqa: E402

AREA_CODES = [
    "201", "212", "213", "305", "312", "404", "415", "470", "512", "617", "646", "678",
    "702", "713", "770", "804", "832", "917", "972", "206",
]  # fmt: skip
FORMATS = [
    "1 {a}-{b}-{c}",  # the seed's four formats
    "({a})-{b} {c}",
    "{a} {b} {c}",
    "+1 ({a}) {b}-{c}",
    "{a}.{b}.{c}",
    "{a}{b}{c}",
]


def number(rng: random.Random, seed: int) -> str:
    a = AREA_CODES[seed % len(AREA_CODES)]
    b = 200 + (seed // 20) % 780
    c = (seed // 15_600) % 10_000
    return rng.choice(FORMATS).format(a=a, b=f"{b:03d}", c=f"{c:04d}")


def generate(path: Path, rows: int) -> None:
    """Realistic mess: company switchboards shared by many contacts, mostly unique
    mobiles, 2% of rows repeating an earlier email (other case), 0.5% bad numbers."""
    rng = random.Random(42)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["First Name", "Last Name", "Email", "Company", "Title", "Phone", "Mobile", "Notes"]
        )
        for i in range(rows):
            person = rng.randrange(i) if i > 100 and rng.random() < 0.02 else i
            company = person % 40_000
            email = f"person{person}@company{company}.example.com"
            if person != i:
                email = email.upper()
            phone = number(rng, 7 + company * 7919) if rng.random() < 0.7 else ""
            mobile = number(rng, 1_000_003 + i * 104_729)
            if rng.random() < 0.005:
                mobile = "555-01" if rng.random() < 0.5 else "not known"
            if not phone and not mobile:
                phone = number(rng, i)
            writer.writerow(
                [
                    f"First{i}",
                    f"Last{i}",
                    email,
                    f"Company {company} Inc",
                    "Director",
                    phone,
                    mobile,
                    "met at expo" if i % 7 == 0 else "",
                ]
            )


def raw_copy(path: Path) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS bench_raw (a text, b text, c text, d text, "
            "e text, f text, g text, h text)"
        )
        cursor.execute("TRUNCATE bench_raw")
        start = time.perf_counter()
        with (
            cursor.cursor.copy("COPY bench_raw FROM STDIN (FORMAT csv, HEADER)") as copy,
            path.open("rb") as handle,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_raw")
    return elapsed


def import_round(path: Path, campaign: Campaign) -> tuple[float, int, LeadUpload]:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "import_leads", str(campaign.pk), str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "DEBUG": "0"},
    )
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    upload = LeadUpload.objects.filter(campaign=campaign).latest("pk")
    return elapsed, peak_kb, upload


def drop_campaign(campaign_id: int) -> None:
    campaign = Campaign.objects.get(pk=campaign_id)
    for upload in LeadUpload.objects.filter(campaign=campaign):
        upload.file.delete(save=False)
    services.campaign_delete(campaign=campaign)
    drop_partition(campaign_id)  # the campaign's emptied table of contacts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        start = time.perf_counter()
        generate(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        print(
            f"generated {args.rows:,} rows x 2 numbers ({size_mb:.0f} MB) "
            f"in {time.perf_counter() - start:.1f}s"
        )
        copy_rates, rates, peaks = [], [], []
        for round_no in range(1, args.rounds + 1):
            copy_s = raw_copy(path)
            campaign = Campaign.objects.create(name=f"bench ingest {time.time_ns()}")
            try:
                elapsed, peak_kb, upload = import_round(path, campaign)
            finally:
                drop_campaign(campaign.pk)
            assert upload.status == LeadUpload.State.COMPLETED, upload.error
            copy_rates.append(args.rows / copy_s)
            rates.append(upload.rows_read / elapsed)
            peaks.append(peak_kb / 1024)
            print(
                f"round {round_no}: import_leads {elapsed:.1f}s = {rates[-1]:,.0f} rows/s "
                f"(rows {upload.rows_read:,}, rejected {upload.rows_rejected:,}, "
                f"contacts {upload.contacts_created:,}, merged by email "
                f"{upload.merged_by_email:,}, accounts {upload.accounts_created:,}, "
                f"numbers {upload.numbers_found:,}); raw COPY {copy_s:.1f}s = "
                f"{copy_rates[-1]:,.0f} rows/s"
            )
        print(f"raw COPY of the same file (median): {statistics.median(copy_rates):,.0f} rows/s")
        print(f"peak RSS of the importing process: {max(peaks):.0f} MB (target < 300 MB)")
        print(
            f"lead ingest end to end, validated (median of {args.rounds}): "
            f"{statistics.median(rates):,.0f} rows/s (target >= 30,000 rows/s; "
            f"{statistics.median(rates) / statistics.median(copy_rates):.0%} of raw COPY)"
        )


if __name__ == "__main__":
    main()
