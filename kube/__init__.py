"""A small Kubernetes API client shared by the events role and the collector's pod
metadata watch: kubeconfig / in-cluster credentials (`config.py`), requests
(`client.py`) and a list+watch loop (`reflector.py`) that speaks the watch protocol:
chunked JSON lines, bookmarks, resume from the last resourceVersion, relist on
``410 Gone``."""
