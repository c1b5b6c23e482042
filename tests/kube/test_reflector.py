"""The API client and the list+watch loop against the protocol-speaking fake server:
paging, bookmarks, resume, 410 Gone -> relist, dropped connections, server errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from kube.client import KubeClient, Obj
from kube.config import KubeConfig
from kube.errors import GoneError, KubeApiError, KubeUnavailable
from kube.reflector import Reflector
from tests.kube.fake_apiserver import FakeApiServer
from tests.kube.fixtures import start_thread, wait_for
from tests.kube.objects import core_event


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.syncs: list[tuple[list[str], str]] = []
        self.events: list[tuple[str, str]] = []
        self.bookmarks: list[str] = []

    def on_sync(self, items: list[Obj], resource_version: str) -> None:
        with self.lock:
            self.syncs.append(([i["metadata"]["name"] for i in items], resource_version))

    def on_event(self, type_: str, obj: Obj) -> None:
        with self.lock:
            self.events.append((type_, obj["metadata"]["name"]))

    def on_bookmark(self, resource_version: str) -> None:
        with self.lock:
            self.bookmarks.append(resource_version)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def reflector(kube: KubeClient, recorder: Recorder) -> Iterator[Reflector]:
    r = Reflector(kube, "/api/v1/events", recorder, backoff_initial=0.05, backoff_max=0.2,
                  watch_timeout=30)
    yield r
    r.stop.set()


def test_list_pages_with_continue(apiserver: FakeApiServer, kube: KubeClient) -> None:
    for i in range(7):
        apiserver.put("events", core_event("shop", f"ev-{i}"))
    items, rv = kube.list("/api/v1/events", page_size=3)
    assert [i["metadata"]["name"] for i in items] == [f"ev-{i}" for i in range(7)]
    assert rv == str(apiserver.rv)
    assert sum("limit=3" in r for r in apiserver.requests) == 3


def test_expired_continue_is_gone(apiserver: FakeApiServer, kube: KubeClient) -> None:
    for i in range(4):
        apiserver.put("events", core_event("shop", f"ev-{i}"))
    page = kube.request("GET", "/api/v1/events", params={"limit": "2"})
    apiserver.compact()
    apiserver.put("events", core_event("shop", "late"))
    with pytest.raises(GoneError):
        kube.request("GET", "/api/v1/events",
                     params={"limit": "2", "continue": page["metadata"]["continue"]})


def test_wrong_token_is_a_clear_error(apiserver: FakeApiServer) -> None:
    client = KubeClient(KubeConfig(server=apiserver.url, token="nope"))
    with pytest.raises(KubeApiError, match="401 Unauthorized") as info:
        client.list("/api/v1/events")
    assert not info.value.retriable
    client.close()


def test_refused_connection_is_retriable() -> None:
    client = KubeClient(KubeConfig(server="http://127.0.0.1:9", token="t"))
    with pytest.raises(KubeUnavailable) as info:
        client.get("/api/v1/events")
    assert info.value.retriable


def test_watch_stream_and_namespace_path(apiserver: FakeApiServer, kube: KubeClient) -> None:
    apiserver.put("events", core_event("shop", "a"))
    apiserver.put("events", core_event("hotel", "b"))
    got: list[tuple[str, str]] = []
    for ev in kube.watch("/api/v1/namespaces/shop/events", None, timeout_seconds=1):
        got.append((ev.type, ev.object["metadata"]["name"]))
        assert ev.object["kind"] == "Event" and ev.object["apiVersion"] == "v1"
    assert got == [("ADDED", "a")]  # stream ended cleanly at the server's timeout


def test_list_then_watch_then_bookmark(apiserver: FakeApiServer, reflector: Reflector,
                                       recorder: Recorder) -> None:
    apiserver.put("events", core_event("shop", "before"))
    start_thread(reflector.run)
    wait_for(lambda: bool(recorder.syncs) and apiserver.open_watches() == 1, "list + watch")
    assert recorder.syncs[0][0] == ["before"]
    ev = core_event("shop", "after")
    apiserver.put("events", ev)
    ev["count"] = 2
    apiserver.put("events", ev)
    wait_for(lambda: len(recorder.events) == 2, "two watch events")
    assert recorder.events == [("ADDED", "after"), ("MODIFIED", "after")]
    rv = apiserver.bookmark()
    wait_for(lambda: recorder.bookmarks == [rv], "bookmark")
    assert reflector.resource_version == rv
    assert any("allowWatchBookmarks=true" in r for r in apiserver.requests)


def test_dropped_connection_resumes_without_relist(
        apiserver: FakeApiServer, reflector: Reflector, recorder: Recorder) -> None:
    start_thread(reflector.run)
    wait_for(lambda: apiserver.open_watches() == 1, "watch open")
    apiserver.put("events", core_event("shop", "one"))
    wait_for(lambda: len(recorder.events) == 1, "first event")
    apiserver.drop_watches()
    wait_for(lambda: apiserver.open_watches() == 1 and
             any(f"resourceVersion={reflector.resource_version}" in r
                 for r in apiserver.requests), "re-watch from the last version")
    apiserver.put("events", core_event("shop", "two"))
    wait_for(lambda: len(recorder.events) == 2, "event after reconnect")
    assert recorder.events == [("ADDED", "one"), ("ADDED", "two")]
    assert len(recorder.syncs) == 1  # resumed, never listed again


def test_gone_relists(apiserver: FakeApiServer, kube: KubeClient, recorder: Recorder) -> None:
    apiserver.put("events", core_event("shop", "old"))
    stale = str(apiserver.rv - 0)
    apiserver.put("events", core_event("shop", "newer"))
    apiserver.compact()
    r = Reflector(kube, "/api/v1/events", recorder, resource_version=stale,
                  backoff_initial=0.05, backoff_max=0.2)
    start_thread(r.run)
    wait_for(lambda: len(recorder.syncs) == 1, "relist after 410")
    assert sorted(recorder.syncs[0][0]) == ["newer", "old"]
    assert recorder.events == []  # the 410 ERROR is not an event
    r.stop.set()


def test_resume_from_saved_version_replays_history(
        apiserver: FakeApiServer, kube: KubeClient, recorder: Recorder) -> None:
    apiserver.put("events", core_event("shop", "seen"))
    saved = str(apiserver.rv)
    apiserver.put("events", core_event("shop", "missed"))
    r = Reflector(kube, "/api/v1/events", recorder, resource_version=saved)
    start_thread(r.run)
    wait_for(lambda: recorder.events == [("ADDED", "missed")], "missed event replayed")
    assert recorder.syncs == []
    r.stop.set()


def test_server_errors_back_off_then_recover(
        apiserver: FakeApiServer, reflector: Reflector, recorder: Recorder) -> None:
    apiserver.fail_next = [(503, "ServiceUnavailable"), (429, "TooManyRequests"),
                           (500, "InternalError")]
    start_thread(reflector.run)
    wait_for(lambda: len(recorder.syncs) == 1, "list after three failures")
    assert not apiserver.fail_next


def test_watch_error_http_status(apiserver: FakeApiServer, kube: KubeClient) -> None:
    apiserver.fail_next = [(403, "Forbidden")]
    with pytest.raises(KubeApiError, match="403 Forbidden"):
        list(kube.watch("/api/v1/events", "1", timeout_seconds=1))
