"""A loopback reputation feed in the HTTP feed adapter's JSON, with a fixed latency.

    python bench/fake_feed.py PORT [--latency 0.1]

``POST /check`` with ``{"numbers": [...]}`` is answered after ``latency`` seconds with
three carriers' results per number (AT&T and Verizon flag the numbers ending in 7).
``GET /stats`` answers the counts as JSON: requests, numbers asked about, the most asks
for one number, and the most requests in flight at once; ``GET /reset`` answers them and
starts counting again. It runs in a process of its own,
as a real feed is on another machine: in the checking process it would take the
interpreter from the check it measures (bench/reputation.py, bench/scale_out.py).
"""

import argparse
import asyncio
import json
from collections import Counter

from _fake_server import serve

STATS = {"requests": 0, "in_flight": 0, "most_in_flight": 0}
ASKED: Counter[str] = Counter()  # asks per number
CARRIERS = ("AT&T", "Verizon", "T-Mobile")


def stats() -> dict:
    return {
        **STATS,
        "numbers": len(ASKED),
        "most_asks_for_one_number": max(ASKED.values(), default=0),
    }


def answer(numbers: list[str]) -> bytes:
    return json.dumps(
        {
            "results": {
                n: [
                    {
                        "carrier": c,
                        "label": "",
                        "score": 10,
                        "flagged": n.endswith("7") and c != "T-Mobile",
                    }
                    for c in CARRIERS
                ]
                for n in numbers
            }
        }
    ).encode()


async def handle(target: str, body: bytes, latency: float) -> tuple[str, bytes]:
    path = target.split("?", 1)[0]
    if path in ("/stats", "/reset"):
        counts = json.dumps(stats()).encode()
        if path == "/reset":  # counts from here on: answered with those before
            STATS.update(requests=0, most_in_flight=0)
            ASKED.clear()
        return "200 OK", counts
    numbers = json.loads(body)["numbers"]
    STATS["requests"] += 1
    ASKED.update(numbers)
    STATS["in_flight"] += 1
    STATS["most_in_flight"] = max(STATS["most_in_flight"], STATS["in_flight"])
    try:
        await asyncio.sleep(latency)
    finally:
        STATS["in_flight"] -= 1
    return "200 OK", answer(numbers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    serve(args.port, lambda target, body: handle(target, body, args.latency))


if __name__ == "__main__":
    main()
