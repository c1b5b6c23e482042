"""Installing the composable index template of logpipe/document.py at start-up.

Installed (or updated in place) before consuming, so every daily index that
Elasticsearch creates on the first bulk of a day gets the document's mappings and these
settings.
"""

from __future__ import annotations

from elasticsearch import Elasticsearch

from logpipe.document import template_body


def install_template(es: Elasticsearch, prefix: str, shards: int, replicas: int,
                     refresh_interval: str, priority: int) -> None:
    """Create or overwrite the template (PUT is idempotent); existing indices keep theirs."""
    es.indices.put_index_template(
        **template_body(prefix, shards, replicas, refresh_interval, priority)
    )
