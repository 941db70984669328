"""What the fake Twilio servers (lookup, calls, messages) share: a threaded HTTP server on
127.0.0.1 with its start and stop, and a JSON answer as Twilio sends it."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ServedOnLoopback:
    """Mixin of a fake vendor: ``serve(Handler)`` in ``__enter__``, ``stop()`` in ``__exit__``;
    ``url`` is the base URL the adapter under test is pointed at."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    url: str

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
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
