#!/usr/bin/env python3
"""A tiny upstream for the end-to-end tests and the demo: it answers every request with the
request it received, as JSON, so a test sees exactly which headers Envoy forwarded.

    python3 upstream.py [--host 127.0.0.1] [--port 0]

Prints `LISTENING <port>` on stdout once it accepts connections. `GET /_e2e/count`, sent to the
upstream directly (not through Envoy), returns how many requests it has served through Envoy
(those carrying Envoy's `x-forwarded-proto`).
Loopback only: it refuses to bind anything outside 127.0.0.0/8.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "e2e-upstream"
    served = 0
    lock = threading.Lock()

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/_e2e/count":
            payload = {"count": Echo.served}
        else:
            if "x-forwarded-proto" in self.headers:
                with Echo.lock:
                    Echo.served += 1
            payload = {
                "method": self.command,
                "path": self.path,
                # A list of pairs: duplicates and order are kept.
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
                "body": body.decode("utf-8", "replace"),
            }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: the tests read Envoy's access log instead


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if not ipaddress.ip_address(args.host).is_loopback:
        print(f"refusing to bind {args.host}: loopback only", file=sys.stderr)
        return 64
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer((args.host, args.port), Echo)
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
