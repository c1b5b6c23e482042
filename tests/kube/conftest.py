"""Fixtures: a protocol-speaking fake API server and a client pointed at it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from collector.kube.client import KubeClient
from collector.kube.config import KubeConfig
from tests.kube.fake_apiserver import FakeApiServer, running


@pytest.fixture
def apiserver() -> Iterator[FakeApiServer]:
    with running() as server:
        yield server


@pytest.fixture
def kube(apiserver: FakeApiServer) -> Iterator[KubeClient]:
    client = KubeClient(KubeConfig(server=apiserver.url, token=apiserver.token))
    yield client
    client.close()


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll until ``check()`` holds; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def start_thread(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread
