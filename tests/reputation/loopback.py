"""A small HTTP server on 127.0.0.1 that answers like a vendor's API, for adapter tests."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.telephony.loopback import serve_in_background


class Loopback:
    """``handler(method, path, query, body, headers) -> (status, json_or_bytes)``, or
    ``(status, json_or_bytes, response_headers)``."""

    def __init__(self, handler):
        self.handler = handler
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype and raw:
                    body = json.loads(raw)
                else:
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                entry = {
                    "method": self.command,
                    "path": parts.path,
                    "query": query,
                    "body": body,
                    "headers": dict(self.headers),
                }
                outer.requests.append(entry)
                status, payload, *extra = outer.handler(
                    self.command, parts.path, query, body, self.headers
                )
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, str(value))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        serve_in_background(self.server)
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
