"""Shared start-up for benchmark scripts: Django on PostgreSQL, migrated, plus stats helpers."""

import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/switchboard"


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        raise SystemExit("Benchmarks run on PostgreSQL: set DATABASE_URL=postgres://…")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def describe(samples_ms: list[float]) -> str:
    return (
        f"median {statistics.median(samples_ms):7.1f} ms  "
        f"p95 {percentile(samples_ms, 95):7.1f} ms  (n={len(samples_ms)})"
    )
