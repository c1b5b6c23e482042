"""HTTP errors of the Log API: every refusal says what to change.

    LogpipeError (logpipe.errors)
    └── ApiError                 status + message, rendered as {"error": ..., "status": ...}
        ├── BadRequest           400: the input cannot be used as given
        ├── Unauthorized         401: no or unknown token
        ├── Forbidden            403: a namespace outside the token's scope
        ├── NotFound             404
        ├── Conflict             409: e.g. an export that is not finished yet
        ├── TooManyRequests      429: per-token caps, with Retry-After
        └── Unavailable          503: Elasticsearch or Kafka is not answering (retriable)
"""

from __future__ import annotations

from logpipe.errors import LogpipeError


class ApiError(LogpipeError):
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class TooManyRequests(ApiError):
    """Sent with ``Retry-After``: when trying again makes sense, in seconds."""

    status = 429

    def __init__(self, message: str, retry_after: float = 2.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ApiError):
    status = 503
    retriable = True
