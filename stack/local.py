"""What `make up` runs beside Kafka and Elasticsearch: demo logs, the collector, the
forwarder and the Log API, wired to each other, plus the tokens to sign in with."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import yaml

from logpipe.tokens import hash_token
from stack.config import StackSettings
from stack.services import ServiceSpec

API_PORT = 8080
COLLECTOR_METRICS = 9101
FORWARDER_METRICS = 9102
REAL_ROOTS = {"docker": Path("/var/lib/docker/containers"), "cri": Path("/var/log/pods")}


def services_home(settings: StackSettings) -> Path:
    return settings.home / "services"


def ensure_tokens(home: Path) -> dict[str, str]:
    """Create (once) an admin token and a token that may read only namespace `pay`.

    The API's file keeps only their SHA-256; the raw tokens are kept beside it,
    readable by this user only, so `make up` can print them again.
    """
    raw_file = home / "tokens.raw.yaml"
    if raw_file.exists():
        raw: dict[str, str] = yaml.safe_load(raw_file.read_text())
    else:
        raw = {"admin": secrets.token_urlsafe(24), "pay": secrets.token_urlsafe(24)}
        home.mkdir(parents=True, exist_ok=True)
        raw_file.write_text(yaml.safe_dump(raw))
        raw_file.chmod(0o600)

    doc = {"tokens": [
        {"name": "admin", "sha256": hash_token(raw["admin"]), "admin": True},
        {"name": "pay-team", "sha256": hash_token(raw["pay"]), "namespaces": ["pay"]},
    ]}
    (home / "tokens.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return raw


def real_roots_readable() -> bool:
    return any(p.is_dir() and os.access(p, os.R_OK | os.X_OK) for p in REAL_ROOTS.values())


def demo_logs(settings: StackSettings) -> Path:
    """The folder the demo generator writes and the collector reads without --real-logs."""
    return services_home(settings) / "demo-logs"


def demo_spec(settings: StackSettings, demo_rate: float = 50.0) -> ServiceSpec:
    return ServiceSpec("demo", "demo", ["demo", "--out", str(demo_logs(settings)),
                                        "--duration", "0", "--rate", str(demo_rate),
                                        "--rotate-bytes", "2000000"])


def specs(
    settings: StackSettings, real_logs: bool = False, demo_rate: float = 50.0
) -> list[ServiceSpec]:
    """The services to run; with ``real_logs`` the demo generator is not among them
    and the collector reads this machine's folders."""
    home = services_home(settings)
    demo = demo_logs(settings)
    common = {
        "LOGPIPE_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "LOGPIPE_ES_URL": settings.es_url,
    }
    if real_logs:
        roots: dict[str, str] = {
            "LOGPIPE_DOCKER_ROOT": str(REAL_ROOTS["docker"]),
            "LOGPIPE_CRI_ROOT": str(REAL_ROOTS["cri"]),
            "LOGPIPE_HOST_ROOT": "/var/log",
        }
    else:
        roots = {
            "LOGPIPE_DOCKER_ROOT": str(demo / "docker" / "containers"),
            "LOGPIPE_CRI_ROOT": str(demo / "pods"),
            "LOGPIPE_HOST_ROOT": str(demo / "log"),
        }
    out = [] if real_logs else [demo_spec(settings, demo_rate)]
    out += [
        ServiceSpec("collector", "collector", ["collector", "run"], {
            **common, **roots,
            "LOGPIPE_STATE_DIR": str(home / "collector-state"),
            "LOGPIPE_NODE_NAME": "local-node",
            "LOGPIPE_METRICS_HOST": "127.0.0.1",
            "LOGPIPE_METRICS_PORT": str(COLLECTOR_METRICS),
        }, f"http://127.0.0.1:{COLLECTOR_METRICS}/healthz"),
        ServiceSpec("forwarder", "forwarder", ["forwarder"], {
            **common,
            "LOGPIPE_METRICS_HOST": "127.0.0.1",
            "LOGPIPE_METRICS_PORT": str(FORWARDER_METRICS),
            "LOGPIPE_INDEX_REPLICAS": str(settings.index_replicas),
        }, f"http://127.0.0.1:{FORWARDER_METRICS}/healthz"),
        ServiceSpec("api", "log_api", ["api", "run"], {
            **common,
            "LOGPIPE_HOST": "127.0.0.1",
            "LOGPIPE_PORT": str(API_PORT),
            "LOGPIPE_TOKENS_FILE": str(home / "tokens.yaml"),
        }, f"http://127.0.0.1:{API_PORT}/healthz"),
    ]
    return out
