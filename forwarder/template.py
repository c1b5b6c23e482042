"""The composable index template ``<prefix>`` for the daily indices ``<prefix>-*``.

Installed (or updated in place) at start-up, so every daily index that Elasticsearch
creates on the first bulk of a day gets these mappings and settings.
"""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

# Bump when the mappings change; kept in _meta so an operator can see what is installed.
TEMPLATE_VERSION = 1

# Who/where fields: exact-match filters and aggregations, never analysed.
KEYWORD_FIELDS = (
    "id", "node", "source", "path", "stream", "container_id", "container_name", "image",
    "namespace", "pod", "pod_uid", "app", "level", "tags",
)

# A keyword longer than Lucene's 32 KiB term limit would make ES refuse the whole
# document; ignore_above keeps the document and only skips indexing that one value.
_IGNORE_ABOVE = 4096


def mappings() -> dict[str, Any]:
    props: dict[str, Any] = {name: {"type": "keyword", "ignore_above": _IGNORE_ABOVE}
                             for name in KEYWORD_FIELDS}
    props.update({
        "v": {"type": "short"},
        "offset": {"type": "long"},
        # Derived at indexing (logpipe.record.es_source): app share sums it.
        "message_bytes": {"type": "integer"},
        "message": {"type": "text"},
        # date_nanos keeps Docker/CRI nanosecond precision (and so their order).
        "ts": {"type": "date_nanos"},
        "ingest_ts": {"type": "date_nanos"},
        # flattened: one field per object however many label keys exist, so
        # arbitrary Kubernetes labels cannot cause a mapping explosion.
        "labels": {"type": "flattened"},
        "attrs": {"type": "flattened"},
    })
    # dynamic=false: a field outside the contract stays in _source but adds no mapping.
    return {"dynamic": False, "properties": props}


def template_body(prefix: str, shards: int, replicas: int, refresh_interval: str,
                  priority: int) -> dict[str, Any]:
    """Keyword arguments for ``indices.put_index_template``."""
    return {
        "name": prefix,
        "index_patterns": [f"{prefix}-*"],
        "priority": priority,
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": shards,
                    "number_of_replicas": replicas,
                    "refresh_interval": refresh_interval,
                },
            },
            "mappings": mappings(),
        },
        "_meta": {"managed_by": "logpipe-forwarder", "version": TEMPLATE_VERSION},
    }


def install_template(es: Elasticsearch, prefix: str, shards: int, replicas: int,
                     refresh_interval: str, priority: int) -> None:
    """Create or overwrite the template (PUT is idempotent); existing indices keep theirs."""
    es.indices.put_index_template(
        **template_body(prefix, shards, replicas, refresh_interval, priority)
    )
