"""Installing the composable index template of logpipe/document.py at start-up.

Installed (or updated in place) before consuming, so every daily index that
Elasticsearch creates on the first bulk of a day gets the document's mappings and these
settings.
"""

from __future__ import annotations

from elasticsearch import Elasticsearch

from logpipe.document import DERIVED, index_pattern, template_body


def install_template(es: Elasticsearch, prefix: str, shards: int, replicas: int,
                     refresh_interval: str, priority: int) -> None:
    """Create or overwrite the template (PUT is idempotent). Existing indices keep their
    mappings, but get the derived fields added (adding a field is allowed on a live
    index), so today's index filters by fields right after an upgrade."""
    es.indices.put_index_template(
        **template_body(prefix, shards, replicas, refresh_interval, priority)
    )
    es.indices.put_mapping(index=index_pattern(prefix), allow_no_indices=True,
                           expand_wildcards="open",
                           properties={name: dict(m) for name, m in DERIVED.items()})
