"""A small synchronous Kubernetes API client: get/create/update, paged list, and watch.

A watch is one long GET whose chunked body is one JSON object a line:
``{"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": {...}}``.
An ``ERROR`` carries a ``Status``; code 410 means the resourceVersion we resumed
from was compacted away and the caller must list again.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from kube.config import KubeConfig
from kube.errors import KubeApiError, KubeUnavailable

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str
    object: Obj

    @property
    def resource_version(self) -> str | None:
        rv = self.object.get("metadata", {}).get("resourceVersion")
        return str(rv) if rv else None


def _json(resp: httpx.Response) -> Any:
    try:
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        return resp.text


class KubeClient:
    """Thread-safe: the pod cache and the event watcher may share one instance."""

    def __init__(self, config: KubeConfig, connect_timeout: float = 10.0,
                 request_timeout: float = 30.0, user_agent: str = "logpipe") -> None:
        self.config = config
        self._timeout = httpx.Timeout(request_timeout, connect=connect_timeout)
        self._http = httpx.Client(
            base_url=config.server, verify=config.ssl_context(), timeout=self._timeout,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )
        # Sockets of open watches: close() shuts them down, because closing a socket
        # does not wake a thread blocked reading it (a watch can be silent for minutes).
        self._watching: set[socket.socket] = set()
        self._lock = threading.Lock()

    def _headers(self) -> dict[str, str]:
        token = self.config.bearer()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def request(self, method: str, path: str, params: dict[str, str] | None = None,
                body: Obj | None = None) -> Obj:
        """One call; the decoded object, or KubeApiError / KubeUnavailable."""
        try:
            resp = self._http.request(
                method, path, params=params, headers=self._headers(),
                content=orjson.dumps(body) if body is not None else None,
            )
        except httpx.TransportError as exc:
            raise KubeUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        data = _json(resp)
        if resp.status_code >= 400:
            raise KubeApiError.from_status(resp.status_code, data)
        if not isinstance(data, dict):
            raise KubeApiError(resp.status_code, "BadResponse", f"not a JSON object: {data!r}")
        return data

    def get(self, path: str) -> Obj:
        return self.request("GET", path)

    def create(self, path: str, body: Obj) -> Obj:
        return self.request("POST", path, body=body)

    def create_event(self, namespace: str, involved: Obj, reason: str, message: str, *,
                     component: str, host: str, type_: str = "Warning") -> Obj:
        """POST a core/v1 Event about ``involved`` (kind, apiVersion, name, namespace,
        uid), as ``kubectl describe`` shows it; the name is unique as kubelet's are."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        name = f"{involved.get('name', 'object')}.{time.time_ns():x}"
        body: Obj = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved, "reason": reason, "message": message[:1024],
            "type": type_, "count": 1, "firstTimestamp": now, "lastTimestamp": now,
            "source": {"component": component, "host": host},
            "reportingComponent": component, "reportingInstance": host,
        }
        return self.create(f"/api/v1/namespaces/{namespace}/events", body)

    def replace(self, path: str, body: Obj) -> Obj:
        """PUT: fails with 409 Conflict when body's resourceVersion is stale."""
        return self.request("PUT", path, body=body)

    def list(self, path: str, params: dict[str, str] | None = None,
             page_size: int = 500) -> tuple[list[Obj], str]:
        """All items (paged with limit/continue) and the list's resourceVersion.

        A ``continue`` token that expired mid-way raises GoneError; the caller relists.
        """
        items: list[Obj] = []
        query = dict(params or {})
        query["limit"] = str(page_size)
        while True:
            page = self.request("GET", path, params=query)
            items.extend(page.get("items") or [])
            meta = page.get("metadata") or {}
            token = meta.get("continue")
            if not token:
                return items, str(meta.get("resourceVersion") or "")
            query["continue"] = str(token)

    def watch(self, path: str, resource_version: str | None,
              params: dict[str, str] | None = None, timeout_seconds: int = 300,
              bookmarks: bool = True) -> Iterator[WatchEvent]:
        """Stream watch events until the server ends the watch (timeout) cleanly.

        ``ERROR`` events are raised (GoneError for 410); a connection that breaks
        mid-stream raises KubeUnavailable.
        """
        query = dict(params or {})
        query["watch"] = "true"
        # Spread the server-side timeouts, as client-go does, so a fleet of watchers
        # does not reconnect in lockstep.
        query["timeoutSeconds"] = str(int(timeout_seconds * (1 + random.random() / 4)))
        if bookmarks:
            query["allowWatchBookmarks"] = "true"
        if resource_version:
            query["resourceVersion"] = resource_version
        # The read timeout bounds silence on the stream; the server ends it first.
        timeout = httpx.Timeout(self._timeout.connect, read=timeout_seconds * 1.5 + 30,
                                connect=self._timeout.connect)
        try:
            with self._http.stream("GET", path, params=query, headers=self._headers(),
                                   timeout=timeout) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise KubeApiError.from_status(resp.status_code, _json(resp))
                stream = resp.extensions.get("network_stream")
                sock = stream.get_extra_info("socket") if stream is not None else None
                if sock is not None:
                    with self._lock:
                        self._watching.add(sock)
                try:
                    for line in resp.iter_lines():
                        if line.strip():
                            yield self._event(line)
                finally:
                    if sock is not None:
                        with self._lock:
                            self._watching.discard(sock)
        except httpx.TransportError as exc:
            raise KubeUnavailable(f"watch {path}: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _event(line: str) -> WatchEvent:
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise KubeApiError(200, "BadWatchLine", f"not JSON: {line[:200]!r}") from None
        kind = data.get("type") if isinstance(data, dict) else None
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(kind, str) or not isinstance(obj, dict):
            raise KubeApiError(200, "BadWatchLine", f"no type/object: {line[:200]!r}")
        if kind == "ERROR":
            raise KubeApiError.from_status(int(obj.get("code") or 500), obj)
        return WatchEvent(kind, obj)

    def close(self) -> None:
        """Close the connections; a watch in progress ends (KubeUnavailable) at once."""
        with self._lock:
            for sock in self._watching:
                with contextlib.suppress(OSError):  # already closed by the other side
                    sock.shutdown(socket.SHUT_RDWR)
        self._http.close()
