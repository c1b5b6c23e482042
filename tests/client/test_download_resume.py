"""``logpipe download`` when Elasticsearch fails mid-download, for real: exit code 4,
no file under the final name, the ``.part`` ending with the server's notice; then
``--resume`` completes it equal to a full download."""

from __future__ import annotations

import contextlib
import random
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from elasticsearch import Elasticsearch

from tests.client.cli import Proc, env
from tests.client.harness import LiveApi, live_api, record, wait_for
from tests.conftest import free_port

pytestmark = pytest.mark.integration

ENTRIES = 8000


class GatedProxy:
    """A TCP proxy that stops passing the answer to a download request until
    ``release``: the client seems to read slowly, so the server stalls on a full socket."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.released = threading.Event()
        # Every proxied socket, closed by close(): one left to the garbage collector
        # warns (ResourceWarning) in whichever later test it is collected.
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.socket()
            self._socks += [client, server]
            # Small, so the bytes in flight stay far below the whole body.
            server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            try:
                server.connect(self.upstream)
            except OSError:  # the API is gone: refuse this one, as it would
                client.close()
                continue
            gated = threading.Event()
            threading.Thread(target=self._pipe, args=(client, server, gated, True),
                             daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, gated, False),
                             daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, gated: threading.Event,
              request: bool) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if request and b"GET /api/v1/download" in data:
                    gated.set()
                if not request and gated.is_set():
                    self.released.wait()
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.released.set()
        self.listener.close()
        for sock in self._socks:
            sock.close()


def _entries_sent(api: LiveApi) -> float:
    text = httpx.get(api.url + "/metrics", timeout=10).text
    m = re.search(r"^logpipe_api_download_entries_total (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def _stalled(api: LiveApi, before: float) -> float:
    """Wait until the server stops sending (the socket is full); entries sent by then."""
    last, same = -1.0, 0
    while same < 5:
        time.sleep(0.2)
        now = _entries_sent(api) - before
        same = same + 1 if now == last else 0
        last = now
    return last


@pytest.fixture
def api(es: Elasticsearch, es_url: str, kafka_bootstrap: str, topic: str, index_prefix: str,
        tmp_path: Path) -> Iterator[LiveApi]:
    # Small pages: the failure comes between pages, well inside the body.
    with live_api(es, es_url, kafka_bootstrap, topic, index_prefix, tmp_path, free_port(),
                  download_page_size=100) as running:
        yield running


def test_broken_download_exits_4_keeps_part_and_resumes(api: LiveApi, tmp_path: Path) -> None:
    now = time.time_ns()
    api.index(record("pay", "checkout", "info", random.Random(i).randbytes(750).hex(),
                     ts_ns=now - (ENTRIES - i) * 1_000_000) for i in range(ENTRIES))
    with api.client() as http:
        full = http.get("/download", params={"namespace": "pay"})
    assert full.status_code == 200 and len(full.content.splitlines()) == ENTRIES

    out = tmp_path / "out.ndjson"
    part = tmp_path / "out.ndjson.part"
    proxy = GatedProxy(int(api.url.rsplit(":", 1)[1]))
    names = list(api.es.indices.get(index=f"{api.prefix}-*"))
    try:
        before = _entries_sent(api)
        proc = Proc(["download", "-n", "pay", "-o", str(out)], {**env(api, tmp=tmp_path),
                                                                  "LOGPIPE_URL": proxy.url})
        try:
            wait_for(lambda: _entries_sent(api) > before, "the download to start")
            sent = _stalled(api, before)
            assert sent < ENTRIES - 1000, f"the server did not stall ({sent} entries sent)"
            # A read block, then close and open to drop the download's point in time:
            # the API's next page needs a new one, which Elasticsearch refuses.
            api.es.indices.put_settings(index=names, settings={"index.blocks.read": True})
            api.es.indices.close(index=names)
            api.es.indices.open(index=names, wait_for_active_shards="all")
            proxy.released.set()
            code = proc.wait_exit(60)
            err = "\n".join(proc.stderr())
        finally:
            proc.stop()
    finally:
        proxy.close()
        api.es.indices.put_settings(index=names, settings={"index.blocks.read": False})
        api.es.cluster.health(index=names, wait_for_status="green", timeout="30s")

    assert code == 4, err
    assert "--resume" in err and str(part) in err
    assert not out.exists() and part.exists()
    notice = orjson.loads(part.read_bytes().splitlines()[-1])
    assert notice["complete"] is False and notice["resume"]

    res = Proc(["download", "-n", "pay", "-o", str(out), "--resume"], env(api, tmp=tmp_path))
    try:
        assert res.wait_exit(60) == 0, res.stderr()
    finally:
        res.stop()
    assert not part.exists()
    assert out.read_bytes() == full.content  # no notice inside, nothing twice or missing
