"""Download tickets: a short-lived, single-use link for a browser, without a token in it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.datastructures import QueryParams

from log_api.deps import ScopeDep, StateDep
from log_api.errors import BadRequest
from log_api.routes.common import ERRORS
from log_api.tickets import query_digest
from logpipe.timefmt import format_ns

router = APIRouter(tags=["download"])
# What a ticket may open: the two file downloads, nothing else.
TICKET_PATHS = r"^/(download|exports/[0-9a-f]{1,64}/file)$"


class TicketIn(BaseModel):
    path: Annotated[str, Field(pattern=TICKET_PATHS, max_length=100, examples=["/download"],
                               description="/download or /exports/{id}/file")]
    query: Annotated[str, Field(max_length=8192, examples=["namespace=pay&format=csv"],
                                description="The query string the link will carry "
                                "(without '?'); the ticket works for exactly this one.")] = ""


class TicketOut(BaseModel):
    url: str = Field(description="The link to fetch (path, query and ticket), once.")
    ticket: str
    expires: str = Field(description="When the ticket stops working.")


@router.post("/tickets", response_model=TicketOut, responses=ERRORS,
             summary="A single-use link to a download or an export file, valid for a minute")
async def create_ticket(body: TicketIn, scope: ScopeDep, state: StateDep,
                        request: Request) -> TicketOut:
    params = QueryParams(body.query)
    if "ticket" in params or "access_token" in params:
        raise BadRequest("the query must not carry a ticket or a token")
    path = f"{request.scope.get('root_path', '')}/api/v1{body.path}"
    ticket, expires = state.tickets_book.issue(
        scope.token_hash, path, query_digest(params.multi_items()))
    sep = "&" if body.query else ""
    url = f"{path}?{body.query}{sep}{QueryParams({'ticket': ticket})}"
    return TicketOut(url=url, ticket=ticket, expires=format_ns(int(expires * 1e9)))
