"""Shared route declarations: the documented error responses; who came by ticket."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from log_api.models import ErrorOut

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The input cannot be used; the message says why."},
    401: {"model": ErrorOut, "description": "No token, or an unknown one."},
    403: {"model": ErrorOut, "description": "A namespace outside the token's scope."},
    503: {"model": ErrorOut, "description": "Elasticsearch or Kafka is not answering."},
}


def by_ticket(request: Request, ticket: str | None) -> bool:
    """Whether the caller was let in by ``ticket`` (as log_api/deps.py decides: a bearer
    header wins over it)."""
    header = request.headers.get("authorization", "")
    return ticket is not None and header[:7].lower() != "bearer "
