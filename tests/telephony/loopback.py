"""What the fake Twilio servers (lookup, calls, messages) share: a threaded HTTP server on
127.0.0.1 with its start and stop, and a JSON answer as Twilio sends it."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# serve_forever looks for shutdown() every poll interval; the stdlib's 0.5 s made every
# test stopping a fake vendor wait for it.
POLL_INTERVAL = 0.01


def serve_in_background(server: ThreadingHTTPServer) -> ThreadingHTTPServer:
    """``server`` serving in a daemon thread until ``shutdown()``."""
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(POLL_INTERVAL,), daemon=True).start()
    return server


def loopback_serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A threaded HTTP server on a free port of 127.0.0.1, serving in the background."""
    return serve_in_background(ThreadingHTTPServer(("127.0.0.1", 0), handler))


class ServedOnLoopback:
    """Mixin of a fake vendor: ``serve(Handler)`` in ``__enter__``, ``stop()`` in ``__exit__``;
    ``url`` is the base URL the adapter under test is pointed at."""

    server: ThreadingHTTPServer
    url: str

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = loopback_serve(handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def answer_json(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict | None = None
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)
