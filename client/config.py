"""Where the client finds the Log API and its token.

Highest first: command-line flags, environment (``LOGPIPE_URL``, ``LOGPIPE_TOKEN``,
``LOGPIPE_TIMEOUT_S``, ``LOGPIPE_INSECURE``), then a YAML file: ``LOGPIPE_CLIENT_CONFIG``
when set, else ``$XDG_CONFIG_HOME/logpipe/config.yaml`` (``~/.config/logpipe/config.yaml``)::

    url: https://logs.example.com
    token: s3cr3t
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    SettingsConfigDict,
)

from client.errors import ClientError
from logpipe.settings import Renamed, renamed_env


def config_path() -> Path:
    explicit = os.environ.get("LOGPIPE_CLIENT_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "logpipe" / "config.yaml"


# Not derived from CommonSettings on purpose: the client has none of the services'
# Kafka/Elasticsearch fields, and LOGPIPE_CONFIG names a *service's* file, which this
# class would refuse (extra=forbid). Same conventions otherwise.
class ClientSettings(Renamed):
    model_config = SettingsConfigDict(env_prefix="LOGPIPE_", extra="forbid")
    config_file_env: ClassVar[str | None] = "LOGPIPE_CLIENT_CONFIG"
    renamed: ClassVar[dict[str, str]] = {"timeout": "timeout_s"}

    url: str = Field("http://127.0.0.1:8080", description="Base URL of the Log API.")
    token: str | None = Field(None, description="Bearer token (ask the API's operator).")
    timeout_s: float = Field(30.0, gt=0, description="Seconds to wait for an answer.")
    insecure: bool = Field(False, description="Skip TLS certificate checks (testing only).")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value

    @classmethod
    def config_file(cls) -> str | None:
        path = config_path()
        return str(path) if path.is_file() else None


def load_settings(url: str | None = None, token: str | None = None) -> ClientSettings:
    """Settings with the flags on top; a bad value becomes a ClientError that says where."""
    overrides: dict[str, Any] = {}
    if url:
        overrides["url"] = url
    if token:
        overrides["token"] = token
    for old, new in renamed_env(ClientSettings).items():
        if old in os.environ:  # a command line tool has no log: say it on stderr
            print(f"logpipe: {old} is deprecated: rename it {new} (the old name is still "
                  "read in this release)", file=sys.stderr)
    try:
        return ClientSettings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ClientError(
            f"client setting {where!r}: {first['msg']} (flag --{where}, env "
            f"LOGPIPE_{where.upper()}, or {config_path()})"
        ) from None
