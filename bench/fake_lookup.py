"""A loopback stand-in for Twilio Lookup v2 with a latency and a concurrency limit.

    python bench/fake_lookup.py PORT [--latency 0.05] [--concurrency 50]

Each request is answered after ``latency`` seconds; a request arriving while
``concurrency`` are already being served gets Twilio's 429 (code 20429, "too many
concurrent requests") at once. So it allows concurrency / latency lookups a second.
``GET /stats`` answers the counts as JSON: answered, rejected (429s), most_in_flight,
and, for benchmarks that share one limit across processes (bench/scale_out.py), the
numbers answered, the most answers given for one number and the most requests within
any one second and any five seconds (sliding windows), counted when they arrived and,
for clients that add ``&SentAt=<epoch>`` (bench/_stamped_provider.py), when they were sent.
About 60% of numbers are mobile.
"""

import argparse
import asyncio
import json
import time
import zlib
from collections import Counter

from _fake_server import serve

STATS = {"answered": 0, "rejected": 0, "in_flight": 0, "most_in_flight": 0}
ANSWERED: Counter[str] = Counter()  # answers given per number
ARRIVALS: list[float] = []  # when each lookup request arrived (monotonic), in order
SENT: list[float] = []  # when each stamped request was sent (the clients' time.time())


def busiest(times: list[float], seconds: float) -> int:
    """The most of ``times`` (sorted) within any window of ``seconds`` (sliding)."""
    most = start = 0
    for end, at in enumerate(times):
        while times[start] <= at - seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


def stats() -> dict:
    return {
        **STATS,
        "numbers": len(ANSWERED),
        "most_answers_for_one_number": max(ANSWERED.values(), default=0),
        "busiest_second": busiest(ARRIVALS, 1.0),
        "busiest_5_seconds": busiest(ARRIVALS, 5.0),
        "stamped": len(SENT),
        "busiest_second_sent": busiest(sorted(SENT), 1.0),
        "busiest_5_seconds_sent": busiest(sorted(SENT), 5.0),
    }


def answer(e164: str) -> bytes:
    mobile = zlib.crc32(e164.encode()) % 10 < 6
    return json.dumps(
        {
            "phone_number": e164,
            "valid": True,
            "calling_country_code": "1",
            "country_code": "US",
            "line_type_intelligence": {
                "type": "mobile" if mobile else "landline",
                "carrier_name": "Bench Wireless" if mobile else "Bench Telco",
                "mobile_country_code": "310",
                "mobile_network_code": "410",
                "error_code": None,
            },
        }
    ).encode()


TOO_MANY = json.dumps(
    {"code": 20429, "message": "Too Many Requests", "more_info": "", "status": 429}
).encode()


async def handle(target: str, body: bytes, latency: float, limit: int) -> tuple[str, bytes]:
    path = target.split("?", 1)[0]
    if path == "/stats":
        return "200 OK", json.dumps(stats()).encode()
    ARRIVALS.append(time.monotonic())
    if "SentAt=" in target:
        SENT.append(float(target.split("SentAt=", 1)[1].split("&", 1)[0]))
    if STATS["in_flight"] >= limit:
        STATS["rejected"] += 1
        return "429 Too Many Requests", TOO_MANY
    STATS["in_flight"] += 1
    STATS["most_in_flight"] = max(STATS["most_in_flight"], STATS["in_flight"])
    try:
        await asyncio.sleep(latency)
    finally:
        STATS["in_flight"] -= 1
    STATS["answered"] += 1
    number = path.rsplit("/", 1)[-1]
    ANSWERED[number] += 1
    return "200 OK", answer(number)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    serve(args.port, lambda target, body: handle(target, body, args.latency, args.concurrency))


if __name__ == "__main__":
    main()
