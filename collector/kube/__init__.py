"""Kubernetes sources: the Event watcher (`logpipe events`) and the node-scoped pod
metadata cache the collector enriches container records with.

Both sit on a small API client (`client.py`) and a list+watch loop (`reflector.py`)
that speaks the API server's watch protocol: chunked JSON lines, bookmarks,
resume from the last resourceVersion, relist on ``410 Gone``.
"""
