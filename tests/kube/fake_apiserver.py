"""A local HTTP server that speaks the Kubernetes API's list/watch protocol.

No API server can run on these machines, so tests talk to this one. It keeps
objects with a global resourceVersion counter and answers as kube-apiserver does:

- ``GET`` list: ``{"kind": "<Kind>List", "metadata": {"resourceVersion", "continue"}, "items"}``,
  paged with ``limit``/``continue``; items carry no kind/apiVersion, like the real thing.
- ``GET ?watch=true``: chunked JSON lines ``{"type", "object"}``; from an old
  ``resourceVersion`` the history after it, without one synthetic ``ADDED`` for the
  current objects; ``BOOKMARK`` on request when ``allowWatchBookmarks=true``; an
  ``ERROR`` with a 410 ``Status`` when the version was compacted; ends cleanly at
  ``timeoutSeconds``.
- ``fieldSelector`` (``a.b=c``, ``a.b!=c``), bearer-token auth, ``POST``/``PUT`` with
  ``409 Conflict`` on a stale resourceVersion (Leases), ``404`` Status objects.

Test hooks: ``bookmark()``, ``compact()``, ``drop_watches()`` (cut every open watch
mid-stream with no terminating chunk), ``fail_next`` (HTTP errors to serve next).
"""

from __future__ import annotations

import base64
import re
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

Obj = dict[str, Any]

KINDS = {"events": "Event", "pods": "Pod", "leases": "Lease", "replicasets": "ReplicaSet",
         "jobs": "Job"}
_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?$"
)


def status(code: int, reason: str, message: str) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def _field(obj: Obj, dotted: str) -> str:
    cur: Any = obj
    for part in dotted.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def _matches(obj: Obj, selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        if "!=" in term:
            key, want = term.split("!=", 1)
            if _field(obj, key) == want:
                return False
        else:
            key, want = term.split("=", 1)
            if _field(obj, key.rstrip("=")) != want:
                return False
    return True


@dataclass
class _Watch:
    resource: tuple[str, str]
    namespace: str | None
    selector: str
    bookmarks: bool
    queue: list[Obj] = field(default_factory=list)
    cut: bool = False
    conn: socket.socket | None = None


class FakeApiServer:
    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self.cond = threading.Condition()
        self.rv = 1000
        self.objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self.history: dict[tuple[str, str], list[tuple[int, str, Obj]]] = {}
        self.compacted: dict[tuple[str, str], int] = {}
        self.watches: list[_Watch] = []
        self.requests: list[str] = []
        # (code, reason) errors served, one each, to the next requests.
        self.fail_next: list[tuple[int, str]] = []
        self.http: ThreadingHTTPServer | None = None
        self.scheme = "http"

    # ---- lifecycle -------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self.http is not None
        host, port = self.http.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def start(self, tls: ssl.SSLContext | None = None) -> FakeApiServer:
        """Serve on a free port; with ``tls``, HTTPS (client certificates verified by
        the context authenticate like a bearer token)."""
        server = self

        class Handler(_Handler):
            api = server

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        if tls is not None:
            self.http.socket = tls.wrap_socket(self.http.socket, server_side=True)
            self.scheme = "https"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.drop_watches()
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()

    # ---- state changes (what controllers and kubelets would do) ---------------
    def _key(self, resource: str) -> tuple[str, str]:
        gv, plural = resource.rsplit("/", 1) if "/" in resource else ("v1", resource)
        return gv, plural

    def _bump(self) -> str:
        self.rv += 1
        return str(self.rv)

    def _record(self, key: tuple[str, str], type_: str, obj: Obj) -> None:
        self.history.setdefault(key, []).append((self.rv, type_, obj))
        for w in self.watches:
            if w.resource == key and self._visible(w, obj):
                w.queue.append({"type": type_, "object": obj})
        self.cond.notify_all()

    def _visible(self, w: _Watch, obj: Obj) -> bool:
        ns = obj.get("metadata", {}).get("namespace")
        return (w.namespace is None or ns == w.namespace) and _matches(obj, w.selector)

    def put(self, resource: str, obj: Obj) -> Obj:
        """Create or update (``resource`` is ``events``, ``events.k8s.io/v1/events``...)."""
        key = self._key(resource)
        # Stored without kind/apiVersion, as list items are served; a copy, so the
        # caller's later edits change nothing until put again.
        obj = {k: v for k, v in orjson.loads(orjson.dumps(obj)).items()
               if k not in ("kind", "apiVersion")}
        with self.cond:
            meta = obj.setdefault("metadata", {})
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", "2026-11-26T07:00:00Z")
            store = self.objects.setdefault(key, {})
            name = (meta.get("namespace", ""), meta["name"])
            type_ = "MODIFIED" if name in store else "ADDED"
            meta["resourceVersion"] = self._bump()
            store[name] = obj
            self._record(key, type_, orjson.loads(orjson.dumps(obj)))
            return obj

    def delete(self, resource: str, namespace: str, name: str) -> None:
        key = self._key(resource)
        with self.cond:
            obj = self.objects[key].pop((namespace, name))
            obj["metadata"]["resourceVersion"] = self._bump()
            self._record(key, "DELETED", obj)

    def bookmark(self) -> str:
        """Send a BOOKMARK at the current resourceVersion to every open watch."""
        with self.cond:
            rv = self._bump()
            for w in self.watches:
                if w.bookmarks:
                    kind = KINDS.get(w.resource[1], "Object")
                    w.queue.append({"type": "BOOKMARK", "object": {
                        "kind": kind, "apiVersion": self._api_version(w.resource),
                        "metadata": {"resourceVersion": rv}}})
            self.cond.notify_all()
            return rv

    def compact(self) -> None:
        """Forget all history: watching from any older resourceVersion is now 410."""
        with self.cond:
            for key in list(self.history) + list(self.objects):
                self.history[key] = []
                self.compacted[key] = self.rv + 1

    def drop_watches(self) -> None:
        """Cut every open watch connection abruptly (no terminating chunk)."""
        with self.cond:
            for w in self.watches:
                w.cut = True
            self.cond.notify_all()

    def open_watches(self) -> int:
        with self.cond:
            return len(self.watches)

    @staticmethod
    def _api_version(key: tuple[str, str]) -> str:
        return key[0]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked transfer needs 1.1
    api: FakeApiServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, code: int, body: Obj) -> None:
        data = orjson.dumps(body)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[tuple[str, str], str | None, str | None, dict[str, str]] | None:
        parts = urlsplit(self.path)
        self.api.requests.append(f"{self.command} {self.path}")
        has_cert = isinstance(self.connection, ssl.SSLSocket) and \
            bool(self.connection.getpeercert())
        if self.headers.get("Authorization") != f"Bearer {self.api.token}" and not has_cert:
            self._send(401, status(401, "Unauthorized", "Unauthorized"))
            return None
        with self.api.cond:
            if self.api.fail_next:
                code, reason = self.api.fail_next.pop(0)
                self._send(code, status(code, reason, f"injected {reason}"))
                return None
        m = _PATH.match(parts.path)
        if m is None:
            self._send(404, status(404, "NotFound", f"the server could not find {parts.path}"))
            return None
        gv = "v1" if m["core"] else f"{m['group']}/{m['version']}"
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return (gv, m["plural"]), m["ns"], m["name"], query

    def _body(self) -> Obj:
        length = int(self.headers.get("Content-Length") or 0)
        data: Obj = orjson.loads(self.rfile.read(length))
        return data

    def do_GET(self) -> None:
        routed = self._route()
        if routed is None:
            return
        key, ns, name, query = routed
        if name is not None:
            with self.api.cond:
                obj = self.api.objects.get(key, {}).get((ns or "", name))
            if obj is None:
                self._send(404, status(404, "NotFound", f'{key[1]} "{name}" not found'))
            else:
                self._send(200, {"kind": KINDS.get(key[1]), "apiVersion": key[0], **obj})
        elif query.get("watch") in ("true", "1"):
            self._watch(key, ns, query)
        else:
            self._list(key, ns, query)

    def _list(self, key: tuple[str, str], ns: str | None, query: dict[str, str]) -> None:
        api = self.api
        with api.cond:
            items = [o for (ons, _), o in sorted(api.objects.get(key, {}).items())
                     if (ns is None or ons == ns) and _matches(o, query.get("fieldSelector", ""))]
            start, rv = 0, str(api.rv)
            if query.get("continue"):
                token = orjson.loads(base64.b64decode(query["continue"]))
                if int(token["rv"]) < api.compacted.get(key, 0):
                    self._send(410, status(410, "Expired", "The provided continue parameter "
                                           "is too old to display a consistent list result."))
                    return
                start, rv = int(token["start"]), str(token["rv"])
        limit = int(query.get("limit") or 0) or len(items)
        page = items[start:start + limit]
        meta: Obj = {"resourceVersion": rv}
        if start + limit < len(items):
            meta["continue"] = base64.b64encode(
                orjson.dumps({"rv": rv, "start": start + limit})).decode()
        self._send(200, {"kind": f"{KINDS.get(key[1], 'Object')}List", "apiVersion": key[0],
                         "metadata": meta, "items": page})

    def _chunk(self, obj: Obj) -> None:
        data = orjson.dumps(obj) + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _watch(self, key: tuple[str, str], ns: str | None, query: dict[str, str]) -> None:
        api = self.api
        w = _Watch(key, ns, query.get("fieldSelector", ""),
                   query.get("allowWatchBookmarks") == "true", conn=self.connection)
        timeout = float(query.get("timeoutSeconds") or 1800)
        with api.cond:
            since = query.get("resourceVersion")
            if since and since != "0":
                if int(since) < api.compacted.get(key, 0):
                    w.queue.append({"type": "ERROR", "object": status(
                        410, "Expired", f"too old resource version: {since} ({api.rv})")})
                else:
                    w.queue.extend({"type": t, "object": o}
                                   for r, t, o in api.history.get(key, [])
                                   if r > int(since) and api._visible(w, o))
            else:
                # No version (or "0"): the current state as synthetic ADDED events.
                w.queue.extend({"type": "ADDED", "object": o}
                               for o in api.objects.get(key, {}).values() if api._visible(w, o))
            api.watches.append(w)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for item in self._drain(w, timeout):
                obj = item["object"]
                if item["type"] not in ("ERROR", "BOOKMARK"):
                    obj = {"kind": KINDS.get(key[1]), "apiVersion": key[0], **obj}
                self._chunk({"type": item["type"], "object": obj})
                if item["type"] == "ERROR":
                    break
            if w.cut:
                # Abrupt end: no terminating chunk, as when a load balancer drops us.
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:  # the client went away first (broken pipe, reset, not connected)
            self.close_connection = True
        finally:
            with api.cond:
                api.watches.remove(w)

    def _drain(self, w: _Watch, timeout: float) -> Iterator[Obj]:
        api = self.api
        deadline = threading.Event()
        timer = threading.Timer(timeout, lambda: _wake(api, deadline))
        timer.start()
        try:
            while True:
                with api.cond:
                    while not w.queue and not w.cut and not deadline.is_set():
                        api.cond.wait()
                    if w.cut or (deadline.is_set() and not w.queue):
                        return
                    batch, w.queue = w.queue, []
                yield from batch
        finally:
            timer.cancel()

    def do_POST(self) -> None:
        routed = self._route()
        if routed is None:
            return
        key, ns, _, _ = routed
        obj = self._body()
        name = obj.get("metadata", {}).get("name", "")
        with self.api.cond:
            if (ns or "", name) in self.api.objects.get(key, {}):
                self._send(409, status(409, "AlreadyExists", f'{key[1]} "{name}" already exists'))
                return
            obj["metadata"]["namespace"] = ns or ""
            created = self.api.put(f"{key[0]}/{key[1]}", obj)
        self._send(201, {"kind": KINDS.get(key[1]), "apiVersion": key[0], **created})

    def do_PUT(self) -> None:
        routed = self._route()
        if routed is None:
            return
        key, ns, name, _ = routed
        obj = self._body()
        with self.api.cond:
            current = self.api.objects.get(key, {}).get((ns or "", name or ""))
            if current is None:
                self._send(404, status(404, "NotFound", f'{key[1]} "{name}" not found'))
                return
            sent = obj.get("metadata", {}).get("resourceVersion")
            if sent != current["metadata"]["resourceVersion"]:
                self._send(409, status(409, "Conflict", "Operation cannot be fulfilled on "
                                       f'{key[1]} "{name}": the object has been modified; '
                                       "please apply your changes to the latest version "
                                       "and try again"))
                return
            obj["metadata"]["namespace"] = ns or ""
            updated = self.api.put(f"{key[0]}/{key[1]}", obj)
        self._send(200, {"kind": KINDS.get(key[1]), "apiVersion": key[0], **updated})


def _wake(api: FakeApiServer, flag: threading.Event) -> None:
    with api.cond:
        flag.set()
        api.cond.notify_all()


@contextmanager
def running(token: str = "test-token") -> Iterator[FakeApiServer]:
    server = FakeApiServer(token).start()
    try:
        yield server
    finally:
        server.stop()
