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


def response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def serve(reader, writer, latency: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode().split("?", 1)[0]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            if path in ("/stats", "/reset"):
                writer.write(response("200 OK", json.dumps(stats()).encode()))
                await writer.drain()
                if path == "/reset":  # counts from here on: answered with those before
                    STATS.update(requests=0, most_in_flight=0)
                    ASKED.clear()
                continue
            numbers = json.loads(body)["numbers"]
            STATS["requests"] += 1
            ASKED.update(numbers)
            STATS["in_flight"] += 1
            STATS["most_in_flight"] = max(STATS["most_in_flight"], STATS["in_flight"])
            try:
                await asyncio.sleep(latency)
            finally:
                STATS["in_flight"] -= 1
            writer.write(response("200 OK", answer(numbers)))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    server = await asyncio.start_server(
        lambda r, w: serve(r, w, args.latency), "127.0.0.1", args.port, backlog=1024
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
