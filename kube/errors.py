"""Errors of the Kubernetes API client.

    LogpipeError                       (logpipe.errors)
    ├── ConfigError                    no usable in-cluster or kubeconfig credentials
    └── KubeError                      the API server answered with a failure
        ├── KubeApiError               an HTTP/Status failure (retriable for 429 and 5xx)
        │   └── GoneError              410 Gone: the resourceVersion was compacted, relist
        └── KubeUnavailable            (retriable) connection refused, reset or dropped

``exc.retriable`` decides the road, as elsewhere in logpipe: a retriable error is
retried with backoff from the same resourceVersion, ``GoneError`` forces a relist.
"""

from __future__ import annotations

from typing import Any

from logpipe.errors import LogpipeError


class KubeError(LogpipeError):
    """The Kubernetes API could not serve a request."""


class KubeApiError(KubeError):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"Kubernetes API answered {code} {reason}: {message}")
        self.code = code
        self.reason = reason
        # Throttling and server-side failures pass; 4xx means the request itself is wrong.
        self.retriable = code == 429 or code >= 500

    @classmethod
    def from_status(cls, code: int, status: Any) -> KubeApiError:
        """Build from a ``kind: Status`` body (or whatever the server sent)."""
        reason, message = "", ""
        if isinstance(status, dict):
            code = int(status.get("code") or code)
            reason = str(status.get("reason") or "")
            message = str(status.get("message") or "")
        else:
            message = str(status)[:300]
        if code == 410:
            return GoneError(code, reason or "Gone", message)
        return cls(code, reason, message)


class GoneError(KubeApiError):
    """The requested resourceVersion is older than the server keeps: list again."""


class KubeUnavailable(KubeError):
    retriable = True
