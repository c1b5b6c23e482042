"""Settings helpers shared by every service.

Each service has one pydantic-settings ``Settings`` class derived from
``CommonSettings``: validated at start-up, unknown keys refused, every field
documented. Values come from (highest first) keyword overrides, environment
variables ``LOGPIPE_<FIELD>``, then a YAML file named by ``LOGPIPE_CONFIG``.

Naming rule: a duration in seconds ends in ``_s``. A renamed setting is listed in its
class's ``renamed`` (old -> new); the old name is still read for one release, and
``environment_report`` tells the operator at start-up, together with any ``LOGPIPE_*``
variable the starting program does not know (the environment refuses nothing on its
own, so a typo would otherwise be silently ignored).
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Mapping
from copy import copy
from typing import Any, ClassVar

from pydantic import Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

KafkaOptions = dict[str, str | int | float | bool]


class RenamedEnv(PydanticBaseSettingsSource):
    """The old environment names of renamed settings, read below the new names (so the
    new one wins when both are set) and above the YAML file."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.prefix = str(settings_cls.model_config.get("env_prefix", "")).upper()
        self.renamed: Mapping[str, str] = getattr(settings_cls, "renamed", {})

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the environment itself

    def __call__(self) -> dict[str, Any]:
        environ = {k.upper(): v for k, v in os.environ.items()}
        return {new: environ[self.prefix + old.upper()] for old, new in self.renamed.items()
                if self.prefix + old.upper() in environ}


class Renamed(BaseSettings):
    """Accepts the old names of renamed settings for one release: in the environment
    (``RenamedEnv``, added by each class's sources) and as YAML keys or keywords."""

    renamed: ClassVar[dict[str, str]] = {}  # old field name -> new field name
    # Settings that no longer do anything -> why: accepted and ignored (with a warning)
    # for one release, so an old configuration still starts.
    retired: ClassVar[dict[str, str]] = {}
    config_file_env: ClassVar[str | None] = None  # the variable naming a YAML file

    @model_validator(mode="before")
    @classmethod
    def _old_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(old in data for old in [*cls.renamed, *cls.retired]):
            data = dict(data)
            for old, new in cls.renamed.items():
                if old in data:
                    value = data.pop(old)
                    data.setdefault(new, value)
            for old, why in cls.retired.items():
                if data.pop(old, None) is not None:
                    logging.getLogger(__name__).warning(
                        "setting %s is no longer used (%s); remove it", old, why)
        return data

    @classmethod
    def config_file(cls) -> str | None:
        """The YAML file below the environment, if any: ``config_file_env`` names it."""
        if cls.config_file_env is None:
            return None
        return os.environ.get(cls.config_file_env) or None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments, the environment, its old names, then the YAML file.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings,
                                                     RenamedEnv(settings_cls)]
        path = cls.config_file()
        if path:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


class CommonSettings(Renamed):
    model_config = SettingsConfigDict(
        env_prefix="LOGPIPE_",
        extra="forbid",
        env_nested_delimiter="__",
        validate_default=True,
    )
    config_file_env: ClassVar[str | None] = "LOGPIPE_CONFIG"

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
        "http://127.0.0.1:9200", description="Elasticsearch URL(s), comma separated; "
        "https://user:password@host:9200 sends basic auth (the password URL-encoded)."
    )
    index_prefix: str = Field("logpipe", description="Daily indices are <prefix>-YYYY.MM.DD.")
    log_level: str = Field("info", description="Log level of the service's own logs.")
    log_format: str = Field(
        "text", pattern="^(text|json)$", description="text or json (one object a line)."
    )


    def es_hosts(self) -> list[str]:
        return [h.strip() for h in self.es_url.split(",") if h.strip()]

    def es_url_shown(self) -> str:
        """``es_url`` for logs: a password in it is replaced by ***."""
        return re.sub(r"//([^:/@,]*):[^@,]*@", r"//\1:***@", self.es_url)


class MetricsEndpoint(CommonSettings):
    """A program that is not a web server serves /metrics /healthz /readyz here.

    Declared once; each program only says its port (``metrics_port_default``), so the
    settings table and ``--help`` show the real default."""

    metrics_port_default: ClassVar[int] = 0
    metrics_host: str = Field("0.0.0.0", description="Bind address of /metrics /healthz "
                              "/readyz.")
    metrics_port: int = Field(0, ge=0, le=65535, description="Port of /metrics /healthz "
                              "/readyz (0 = any free port).")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        field = cls.model_fields["metrics_port"]
        if field.default != cls.metrics_port_default:
            field = copy(field)  # the parent's FieldInfo must keep its own default
            field.default = cls.metrics_port_default
            cls.model_fields["metrics_port"] = field
            cls.model_rebuild(force=True)


def known_env(cls: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads (upper case)."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    names = {f"{prefix}{name}".upper() for name in cls.model_fields}
    config_env = getattr(cls, "config_file_env", None)
    if isinstance(config_env, str):
        names.add(config_env.upper())
    return names


def renamed_env(cls: type[BaseSettings]) -> dict[str, str]:
    """Old environment name -> new one, for the renamed settings of ``cls``."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    renamed: Mapping[str, str] = getattr(cls, "renamed", {})
    return {f"{prefix}{old}".upper(): f"{prefix}{new}".upper() for old, new in renamed.items()}


def retired_env(cls: type[BaseSettings]) -> dict[str, str]:
    """Environment name -> why, for the retired settings of ``cls``."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    retired: Mapping[str, str] = getattr(cls, "retired", {})
    return {f"{prefix}{old}".upper(): why for old, why in retired.items()}


def environment_report(
    program: str,
    programs: Mapping[str, type[BaseSettings]],
    environ: Mapping[str, str] | None = None,
) -> list[tuple[int, str]]:
    """(log level, message) for every ``LOGPIPE_*`` variable that ``program`` (a key of
    ``programs``, program name -> its settings class) will not read as it stands:
    an old name (read, but deprecated), another program's setting (normal in a shared
    .env), or a name nobody knows (a typo: the closest known name is suggested)."""
    cls = programs[program]
    own, old_names = known_env(cls), renamed_env(cls)
    retired = retired_env(cls)
    retired_elsewhere = {env: name for name, other in programs.items()
                         for env in retired_env(other)}
    everyone: dict[str, list[str]] = {}  # env name -> programs that read it
    current: dict[str, str] = {}  # any env name -> the name to write today
    for name, other in programs.items():
        for env in known_env(other):
            everyone.setdefault(env, []).append(name)
            current[env] = env
        for old, new in renamed_env(other).items():
            everyone.setdefault(old, []).append(name)
            current.setdefault(old, new)  # a name current elsewhere stays itself
    found: list[tuple[int, str]] = []
    variables = os.environ if environ is None else environ
    for var in sorted(v.upper() for v in variables):
        if not var.startswith("LOGPIPE_"):
            continue
        head = var.split("__", 1)[0]  # LOGPIPE_KAFKA_OPTIONS__<key>: a nested value
        if head in own:
            continue
        if head in retired:
            found.append((logging.WARNING, f"{var} is no longer used ({retired[head]}); "
                          "remove it"))
        elif head in retired_elsewhere:
            found.append((logging.INFO, f"{var} is not a {program} setting (a setting "
                          f"{retired_elsewhere[head]} no longer uses)"))
        elif head in old_names:
            found.append((logging.WARNING, f"{var} is deprecated: rename it {old_names[head]} "
                          "(the old name is still read in this release)"))
        elif head in everyone:
            found.append((logging.INFO, f"{var} is not a {program} setting: it belongs to "
                          f"{', '.join(everyone[head])}"))
        else:
            # A typo of an old name is pointed at the name to write today.
            close = [current[match] for match in
                     difflib.get_close_matches(head, sorted(everyone), n=1)]
            hint = (f"; did you mean {close[0]} ({', '.join(everyone[close[0]])})?"
                    if close else "")
            nobody = " or of any other logpipe program" if len(programs) > 1 else ""
            found.append((logging.WARNING, f"{var} is not a setting of {program}{nobody} "
                          f"and is ignored{hint}"))
    return found


# Program name -> settings class of every program. Only the root command (cli/) knows
# them all, and the base imports no program, so cli/ hands them over before a program
# starts (cli.main). Empty when a program runs as `python -m <program>`.
_PROGRAMS: dict[str, type[BaseSettings]] = {}


def register_programs(programs: Mapping[str, type[BaseSettings]]) -> None:
    _PROGRAMS.update(programs)


def log_environment_report(program: str, settings_cls: type[BaseSettings]) -> None:
    """At the start of ``program``, once logging is set up: log the LOGPIPE_* variables
    it will not read (``environment_report``)."""
    logger = logging.getLogger(program)
    for level, message in environment_report(program, {**_PROGRAMS, program: settings_cls}):
        logger.log(level, "%s", message, extra={"event": "settings_environment"})


def settings_listing(cls: type[BaseSettings]) -> str:
    """What ``logpipe <program> settings`` prints: each variable, default and meaning."""
    return "\n".join(f"{env}\n    default: {default}\n    {desc}"
                     for env, default, desc in settings_table(cls))


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
