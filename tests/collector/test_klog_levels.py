"""Kubernetes components (static pods, /var/log/kube-*.log) write klog headers:
the collector's level detection must read their I/W/E/F prefix."""

from __future__ import annotations

import pytest

from collector.level_detect import detect_level


@pytest.mark.parametrize(("line", "level"), [
    ("I1126 07:00:00.000000       1 x.go:1] msg", "info"),
    ("W1126 07:00:00.123456    2412 reflector.go:539] failed to list *v1.Pod: timeout",
     "warn"),
    ("E1126 07:00:00.000001   11 controller.go:114] error syncing 'shop/web': boom", "error"),
    ("F1126 07:00:00.999999 1 server.go:77] failed to start: address already in use",
     "fatal"),
    ("I0101 00:00:00.000000 1 main.go:5] multi\nE0101 line two looks like an error", "info"),
])
def test_klog_prefix(line: str, level: str) -> None:
    assert detect_level(line) == level


@pytest.mark.parametrize("line", [
    "I1126 is not a klog header",  # the time must follow
    "X1126 07:00:00.000000 1 x.go:1] unknown letter",
])
def test_not_klog(line: str) -> None:
    assert detect_level(line) == "unknown"
