"""The HTTP side of the client: one httpx.Client per command, and the translation of
every failure into a ClientError that says what to do next."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import orjson

from client.config import ClientSettings, config_path
from client.errors import ServerError, Unreachable

API_PREFIX = "/api/v1"
Params = Sequence[tuple[str, str | int | float | bool | None]]


def _server_message(resp: httpx.Response) -> str:
    """The API's own explanation ({"error": ...}), FastAPI's 422 detail, or the text."""
    try:
        body = orjson.loads(resp.read())
    except (orjson.JSONDecodeError, httpx.ResponseNotRead):
        return resp.text.strip()[:300] or resp.reason_phrase
    if isinstance(body, dict):
        if isinstance(body.get("error"), str):
            return str(body["error"])
        detail = body.get("detail")
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            d = detail[0]
            loc = ".".join(str(p) for p in d.get("loc", ())[1:]) or "request"
            return f"{loc}: {d.get('msg', 'invalid')}"
        if isinstance(detail, str):
            return detail
    return str(body)[:300]


def explain(resp: httpx.Response, settings: ClientSettings) -> ServerError:
    status = resp.status_code
    msg = _server_message(resp)
    where = f"--token, LOGPIPE_TOKEN or 'token:' in {config_path()}"
    if status == 401:
        if not settings.token:
            return ServerError(status, f"the Log API wants a token ({msg}); give it with {where}")
        return ServerError(status, f"the Log API refused the token ({msg}); check it, or set "
                                   f"another with {where}")
    if status == 403:
        return ServerError(status, f"{msg}. Ask the API's operator for a token that covers it, "
                                   "or choose a namespace the token may read")
    if status == 404 and not msg.startswith(("no ", "No ")):
        return ServerError(status, f"{resp.request.url.path} was not found at {settings.url}; "
                                   "is that a logpipe Log API? Check --server / LOGPIPE_URL")
    if status == 429:
        return ServerError(status, f"{msg} (the server limits this token)")
    if status >= 500:
        return ServerError(status, f"the Log API at {settings.url} failed ({status}): {msg}; "
                                   "try again, or look at the API's logs")
    return ServerError(status, msg)


def unreachable(exc: Exception, settings: ClientSettings) -> Unreachable:
    return Unreachable(
        f"cannot reach the Log API at {settings.url} ({type(exc).__name__}: {exc}); is "
        f"`logpipe api` running there? Set the address with --server, LOGPIPE_URL or "
        f"'url:' in {config_path()}"
    )


def clean(params: Params) -> httpx.QueryParams:
    """Drop unset parameters; booleans as the API reads them."""
    out: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in params:
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((key, "true" if value else "false"))
        else:
            out.append((key, str(value)))
    return httpx.QueryParams(out)


class Api:
    """A Log API client; every call raises ClientError subclasses, never httpx errors."""

    def __init__(self, settings: ClientSettings, *, read_timeout: float | None = None) -> None:
        self.settings = settings
        headers = {"Accept": "application/json", "User-Agent": "logpipe-cli"}
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        timeout = httpx.Timeout(settings.timeout_s, read=read_timeout or settings.timeout_s)
        self.http = httpx.Client(base_url=settings.url + API_PREFIX, headers=headers,
                                 timeout=timeout, verify=not settings.insecure)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, params: Params = (),
                json: Any = None) -> Any:
        try:
            resp = self.http.request(method, path, params=clean(params), json=json)
        except httpx.TransportError as exc:
            raise unreachable(exc, self.settings) from None
        if resp.status_code >= 400:
            raise explain(resp, self.settings)
        if not resp.content:
            return None
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            raise ServerError(resp.status_code, f"{resp.request.url.path} answered something "
                              "that is not JSON; is --server a logpipe Log API?") from None

    def get(self, path: str, params: Params = ()) -> Any:
        return self.request("GET", path, params)

    @contextmanager
    def stream(self, path: str, params: Params = (),
               headers: dict[str, str] | None = None) -> Iterator[httpx.Response]:
        """A streamed GET whose status was checked (body not read yet)."""
        try:
            with self.http.stream("GET", path, params=clean(params),
                                  headers=headers or {}) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise explain(resp, self.settings)
                yield resp
        except httpx.TransportError as exc:
            raise unreachable(exc, self.settings) from None
