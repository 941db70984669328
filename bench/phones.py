"""Phone parsing: ``crm.phones.normalize`` over 1M lead-file numbers and a messy corpus.

No database: parsing alone. The lead-file corpus is what the NANP fast path is for
(plainly formatted North American numbers); the messy corpus (the differential test's,
tests/crm/phone_corpus.py) mostly takes libphonenumber's full parser, so it is smaller.
Each figure is the median of several runs; the last line is the headline.

``--against PATH/crm/phones.py`` times another version of the module too (e.g. main's
checkout), alternating runs so both see the same machine load, and prints the ratio.
"""

import argparse
import contextlib
import importlib.util
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import setup_django

RUNS = 3
LEAD_FILE_NUMBERS = 1_000_000
MESSY_NUMBERS = 20_000


def lead_file_numbers(count: int) -> list[str]:
    """Valid numbers (as most of a lead file's are), formatted as exports write them."""
    from crm import phones
    from tests.crm.phone_corpus import plain_nanp

    rng = random.Random(7)
    numbers: list[str] = []
    while len(numbers) < count:
        text = plain_nanp(rng)
        if "\t" in text:  # a tab inside a number is rare in a real export
            continue
        if phones._nanp_fast_path(text.strip(), "US"):
            numbers.append(text)
    return numbers


def time_normalize(module: Any, texts: list[tuple[str, str]]) -> float:
    module._normalize.cache_clear()
    normalize, invalid = module.normalize, module.InvalidPhoneNumber
    started = time.perf_counter()
    for text, region in texts:
        with contextlib.suppress(invalid):
            normalize(text, region)
    return time.perf_counter() - started


def measure(name: str, texts: list[tuple[str, str]], modules: dict[str, Any]) -> dict[str, float]:
    seconds: dict[str, list[float]] = {label: [] for label in modules}
    for _ in range(RUNS):
        for label, module in modules.items():
            seconds[label].append(time_normalize(module, texts))
    rates = {}
    for label, runs in seconds.items():
        median = statistics.median(runs)
        rates[label] = len(texts) / median
        print(
            f"{name:<28} {label:<8} {len(texts):>9,} inputs  median {median:6.2f} s  "
            f"{median / len(texts) * 1e6:6.2f} µs each  {rates[label]:>10,.0f}/s  "
            f"(runs: {', '.join(f'{s:.2f}' for s in runs)})"
        )
    return rates


def load(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("phones_baseline", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", help="another crm/phones.py to time beside this one")
    parser.add_argument("--numbers", type=int, default=LEAD_FILE_NUMBERS, help="lead-file numbers")
    parser.add_argument("--messy", type=int, default=MESSY_NUMBERS, help="messy corpus inputs")
    parser.add_argument("--small", action="store_true", help="100,000 and 2,000 inputs")
    args = parser.parse_args()
    if args.small:
        args.numbers, args.messy = 100_000, 2_000
    setup_django(database=False)  # parsing alone: no database
    from crm import phones
    from tests.crm.phone_corpus import corpus

    modules: dict[str, Any] = {"this": phones}
    if args.against:
        modules["against"] = load(args.against)
    messy = list(corpus(seed=20261201, size=args.messy))
    measure("messy corpus (full parser)", messy, modules)
    lead = [(text, "US") for text in lead_file_numbers(args.numbers)]
    rates = measure("lead-file NANP numbers", lead, modules)
    ratio = f" ({rates['this'] / rates['against']:.2f}x the other)" if args.against else ""
    print(f"normalize, {args.numbers:,} lead-file numbers: {rates['this']:,.0f} numbers/s{ratio}")


if __name__ == "__main__":
    main()
