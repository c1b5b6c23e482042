"""A small HTTP endpoint for services that are not web servers (collector,
forwarder): Prometheus ``/metrics``, ``/healthz`` (alive) and ``/readyz`` (ready)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

# A check returns (ok, detail); detail is shown in the body so a probe failure explains itself.
Check = Callable[[], tuple[bool, str]]


def _always_ok() -> tuple[bool, str]:
    return True, "ok"


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        live: Check = _always_ok,
        ready: Check = _always_ok,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        checks = {"/healthz": live, "/livez": live, "/readyz": ready}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    body, status, ctype = generate_latest(registry), 200, CONTENT_TYPE_LATEST
                elif path in checks:
                    ok, detail = checks[path]()
                    body, status, ctype = detail.encode() + b"\n", 200 if ok else 503, "text/plain"
                else:
                    body = b"not found: try /metrics /healthz /readyz\n"
                    status, ctype = 404, "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # probes every few seconds would drown the service's own logs

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health", daemon=True
        )

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
