"""The HTTP/1.1 keep-alive loop the loopback stand-ins share (bench/fake_feed.py,
bench/fake_lookup.py): each runs in a process of its own, as the real service is elsewhere,
and answers JSON after whatever latency it models.

A stand-in gives :func:`serve` a handler ``(target, body) -> (status, JSON body)`` (a
coroutine: it may sleep); the loop reads each request's head and body, answers, and keeps
the connection for the next request until the client closes it.
"""

import asyncio
from collections.abc import Awaitable, Callable

Handler = Callable[[str, bytes], Awaitable[tuple[str, bytes]]]


def response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def _connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode()
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            status, answer = await handler(target, body)
            writer.write(response(status, answer))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()


def serve(port: int, handler: Handler) -> None:
    """Answer on 127.0.0.1:``port`` until killed."""

    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _connection(r, w, handler), "127.0.0.1", port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())
