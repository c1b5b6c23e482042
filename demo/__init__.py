"""Demo log generator: realistic container and host logs on disk for the collector.

``logpipe demo --out DIR`` writes what a node really holds — Docker json-file
containers with ``config.v2.json``, CRI pod logs, and a host syslog — with a mix of
apps, namespaces, levels, JSON and text formats, stack traces, long lines split
into partial pieces, and size-based rotation. Deterministic for a given seed.
"""
