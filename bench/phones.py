"""Phone parsing: ``crm.phones.normalize`` over 1M lead-file numbers and a messy corpus.

No database: parsing alone. The lead-file corpus is what the NANP fast path is for
(plainly formatted North American numbers); the messy corpus (the differential test's,
tests/crm/phone_corpus.py) mostly takes libphonenumber's full parser, so it is smaller.
Each figure is the median of several runs; the last line is the headline.
"""

import contextlib
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django  # noqa: E402

django.setup()

from crm import phones  # noqa: E402
from tests.crm.phone_corpus import corpus, plain_nanp  # noqa: E402

RUNS = 5
LEAD_FILE_NUMBERS = 1_000_000
MESSY_NUMBERS = 20_000


def lead_file_numbers(count: int) -> list[str]:
    """Valid numbers (as most of a lead file's are), formatted as exports write them."""
    rng = random.Random(7)
    numbers: list[str] = []
    while len(numbers) < count:
        text = plain_nanp(rng)
        if "\t" in text:  # a tab inside a number is rare in a real export
            continue
        if phones._nanp_fast_path(text.strip(), "US") or rng.random() < 0.02:
            numbers.append(text)
    return numbers


def time_normalize(texts: list[tuple[str, str]]) -> float:
    normalize, invalid = phones.normalize, phones.InvalidPhoneNumber
    started = time.perf_counter()
    for text, region in texts:
        with contextlib.suppress(invalid):
            normalize(text, region)
    return time.perf_counter() - started


def measure(name: str, texts: list[tuple[str, str]]) -> float:
    seconds = []
    for _ in range(RUNS):
        phones._normalize.cache_clear()
        seconds.append(time_normalize(texts))
    median = statistics.median(seconds)
    per = median / len(texts) * 1e6
    rate = len(texts) / median
    print(
        f"{name:<28} {len(texts):>9,} inputs  median {median:6.2f} s  {per:6.2f} µs each  "
        f"{rate:>10,.0f}/s  (runs: {', '.join(f'{s:.2f}' for s in seconds)})"
    )
    return rate


def main() -> None:
    messy = list(corpus(seed=20261201, size=MESSY_NUMBERS))
    measure("messy corpus (full parser)", messy)
    lead = [(text, "US") for text in lead_file_numbers(LEAD_FILE_NUMBERS)]
    rate = measure("lead-file NANP numbers", lead)
    print(f"normalize, 1M lead-file numbers: {rate:,.0f} numbers/s")


if __name__ == "__main__":
    main()
