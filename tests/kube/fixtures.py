"""Fixtures shared by the tests of kube/, events/ and the collector's pod watch: a
protocol-speaking fake API server, a client pointed at it, and polling helpers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from kube.client import KubeClient
from kube.config import KubeConfig
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
