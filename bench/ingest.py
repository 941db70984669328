"""Lead ingest, end to end: a CSV with two messy numbers per row (1M rows by default).

Generates the file once, then per round, back to back on the same file: raw COPY of it
into a scratch table (the floor: PostgreSQL reading the bytes, no validation), then
`manage.py import_leads` into a fresh campaign in a child process (validated end to end:
parse, normalise both numbers, stage, merge, counts, receipt), timing the whole command,
start-up included. The import's memory is sampled from /proc every 20 ms: the RSS of its
largest process, and the PSS of all its processes together (its workers are forked, so
they share pages with it: PSS counts a shared page once, divided among its sharers).
Prints each round, then medians; the last line is the headline, the share of COPY.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_ingest \
        .venv/bin/python bench/ingest.py --rows 200000
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
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, setup_django

AREA_CODES = [
    "201", "212", "213", "305", "312", "404", "415", "470", "512", "617", "646", "678",
    "702", "713", "770", "804", "832", "917", "972", "206",
]  # fmt: skip
FORMATS = [
    "1 {a}-{b}-{c}",  # the four formats of docs/product.md
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
    from django.db import connection

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


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """RSS and PSS (shared pages divided among the processes sharing them)."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


class MemorySampler(threading.Thread):
    """The peak RSS of the largest process under ``pid``, and the peak PSS of them all."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.largest_kb = self.total_kb = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.02):
            sizes = [_memory_kb(p) for p in _tree(self.pid)]
            if sizes:
                self.largest_kb = max(self.largest_kb, max(rss for rss, _ in sizes))
                self.total_kb = max(self.total_kb, sum(pss for _, pss in sizes))


def import_round(path: Path, campaign_id: int) -> tuple[float, int, int]:
    """Seconds, the peak RSS (KB) of the largest process and the peak PSS of all."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "import_leads", str(campaign_id), str(path)],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "DEBUG": "0"},
    )
    sampler = MemorySampler(process.pid)
    sampler.start()
    code = process.wait()
    elapsed = time.perf_counter() - start
    sampler.stopped.set()
    sampler.join()
    if code:
        raise SystemExit(f"import_leads exited with {code}")
    # The kernel's own peak for the largest process reaped (the command or a worker).
    largest = max(sampler.largest_kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return elapsed, largest, sampler.total_kb


def drop_campaign(campaign_id: int) -> None:
    from campaigns import services
    from campaigns.ingest.partitions import drop_partition
    from campaigns.models import Campaign, LeadUpload

    campaign = Campaign.objects.get(pk=campaign_id)
    for upload in LeadUpload.objects.filter(campaign=campaign):
        upload.file.delete(save=False)
    services.campaign_delete(campaign=campaign)
    drop_partition(campaign_id)  # the campaign's emptied table of contacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    setup_django()  # after the arguments: --help touches no database
    from campaigns.models import Campaign, LeadUpload

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; cores {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        start = time.perf_counter()
        generate(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        print(
            f"generated {args.rows:,} rows x 2 numbers ({size_mb:.0f} MB) "
            f"in {time.perf_counter() - start:.1f}s"
        )
        copy_rates, rates, shares, largest, totals = [], [], [], [], []
        for round_no in range(1, args.rounds + 1):
            copy_s = raw_copy(path)
            campaign = Campaign.objects.create(name=f"bench ingest {time.time_ns()}")
            try:
                elapsed, largest_kb, total_kb = import_round(path, campaign.pk)
                upload = LeadUpload.objects.filter(campaign=campaign).latest("pk")
            finally:
                drop_campaign(campaign.pk)
            assert upload.status == LeadUpload.State.COMPLETED, upload.error
            copy_rates.append(args.rows / copy_s)
            rates.append(upload.rows_read / elapsed)
            shares.append(rates[-1] / copy_rates[-1])
            largest.append(largest_kb / 1024)
            totals.append(total_kb / 1024)
            print(
                f"round {round_no}: raw COPY {copy_s:.2f}s = {copy_rates[-1]:,.0f} rows/s; "
                f"import_leads {elapsed:.2f}s = {rates[-1]:,.0f} rows/s "
                f"(rows {upload.rows_read:,}, rejected {upload.rows_rejected:,}, "
                f"contacts {upload.contacts_created:,}, merged by email "
                f"{upload.merged_by_email:,}, accounts {upload.accounts_created:,}, "
                f"numbers {upload.numbers_found:,}); peak RSS {largest[-1]:.0f} MB "
                f"(all processes, PSS {totals[-1]:.0f} MB); {shares[-1]:.1%} of COPY"
            )
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
        print(f"raw COPY of the same file (median): {statistics.median(copy_rates):,.0f} rows/s")
        print(
            f"import_leads, validated end to end (median): {statistics.median(rates):,.0f} rows/s"
        )
        print(
            f"peak memory of the import: RSS {max(largest):.0f} MB its largest process, "
            f"PSS {max(totals):.0f} MB all its processes together (target < 300 MB)"
        )
        print(
            f"lead ingest {args.rows:,} rows: {statistics.median(rates):,.0f} rows/s = "
            f"{statistics.median(shares):.1%} of raw COPY of the same file in the same run "
            f"(median of {args.rounds}; target >= 4%)"
        )


if __name__ == "__main__":
    main()
