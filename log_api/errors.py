"""HTTP errors of the Log API: every refusal says what to change.

    LogpipeError (logpipe.errors)
    └── ApiError                 status + message, rendered as {"error": ..., "status": ...}
        ├── BadRequest           400: the input cannot be used as given
        ├── Unauthorized         401: no or unknown token
        ├── Forbidden            403: a namespace outside the token's scope
        ├── NotFound             404
        ├── Conflict             409: e.g. an export that is not finished yet
        ├── TooManyRequests      429: per-token caps (tails, exports)
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
    status = 429


class Unavailable(ApiError):
    status = 503
    retriable = True
