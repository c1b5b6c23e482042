"""Client failures, each with a message that says what to do.

    LogpipeError (logpipe.errors)
    └── ClientError          printed as "error: ..." with exit code 1
        ├── ServerError      the API answered 4xx/5xx (status kept)
        └── Unreachable      no answer at all (retriable)
"""

from __future__ import annotations

from logpipe.errors import LogpipeError


class ClientError(LogpipeError):
    exit_code = 1


class ServerError(ClientError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.retriable = status in (429, 502, 503, 504)


class Unreachable(ClientError):
    retriable = True
