"""Settings helpers shared by every service.

Each service has one pydantic-settings ``Settings`` class derived from
``CommonSettings``: validated at start-up, unknown keys refused, every field
documented. Values come from (highest first) keyword overrides, environment
variables ``LOGPIPE_<FIELD>``, then a YAML file named by ``LOGPIPE_CONFIG``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

KafkaOptions = dict[str, str | int | float | bool]


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOGPIPE_",
        extra="forbid",
        env_nested_delimiter="__",
        validate_default=True,
    )
    config_file_env: ClassVar[str] = "LOGPIPE_CONFIG"

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )
    kafka_topic: str = Field("logs", description="Topic that carries the records.")
    kafka_options: KafkaOptions = Field(
        default_factory=dict,
        description="Extra librdkafka/client options passed through as they are "
        "(e.g. security.protocol, sasl.*); JSON in the environment.",
    )
    es_url: str = Field(
        "http://127.0.0.1:9200", description="Elasticsearch URL(s), comma separated."
    )
    index_prefix: str = Field("logpipe", description="Daily indices are <prefix>-YYYY.MM.DD.")
    log_level: str = Field("info", description="Log level of the service's own logs.")
    log_format: str = Field(
        "text", pattern="^(text|json)$", description="text or json (one object a line)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get(cls.config_file_env)
        if path:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    def es_hosts(self) -> list[str]:
        return [h.strip() for h in self.es_url.split(",") if h.strip()]


def settings_table(cls: type[BaseSettings]) -> list[tuple[str, str, str]]:
    """(env var, default, description) rows, for `--help` epilogs and the README."""
    rows = []
    prefix = str(cls.model_config.get("env_prefix", ""))
    for name, info in cls.model_fields.items():
        default: Any = info.get_default(call_default_factory=True)
        shown = repr(default)
        if info.default_factory is not None and not isinstance(default, list | dict | tuple):
            # Computed from the machine (host name, home folder): say so rather than
            # print this machine's value as if it were everyone's default.
            shown = "computed"
        rows.append((f"{prefix}{name}".upper(), shown, info.description or ""))
    return rows
