"""Shared route declarations: the documented error responses."""

from __future__ import annotations

from typing import Any

from log_api.models import ErrorOut

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The input cannot be used; the message says why."},
    401: {"model": ErrorOut, "description": "No token, or an unknown one."},
    403: {"model": ErrorOut, "description": "A namespace outside the token's scope."},
    503: {"model": ErrorOut, "description": "Elasticsearch or Kafka is not answering."},
}
