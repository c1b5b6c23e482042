"""A private single-node Elasticsearch for the tests that stop it or overload it,
started through the stack manager's ElasticServer on free ports in its own home, so
the shared stack is never touched."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from stack.config import StackSettings
from stack.elastic import ElasticServer
from tests.forwarder.util import free_port


class PrivateElastic(ElasticServer):
    """ElasticServer with extra node settings passed as ``-E key=value``.

    A tiny write thread pool (size 1, queue 1) makes the node answer bulk items with
    429 es_rejected_execution_exception under concurrent bulks: real rejections.
    """

    def __init__(self, extra: dict[str, str], heap: str = "384m") -> None:
        home = Path(tempfile.mkdtemp(prefix="lpt-es-"))
        home.chmod(0o755)  # ES runs as an unprivileged user when we are root
        shared = StackSettings()
        settings = StackSettings(
            home=home, downloads=shared.downloads_dir, es_port=free_port(),
            es_transport_port=free_port(), es_heap=heap, es_version=shared.es_version,
            es_user=shared.es_user,
        )
        super().__init__(settings)
        self.extra = extra
        self.root = home

    def spawn(self, argv: list[str], env: Mapping[str, str] | None = None,
              user: int | None = None, group: int | None = None) -> None:
        args = argv + [f"-E{k}={v}" for k, v in self.extra.items()]
        super().spawn(args, env=env, user=user, group=group)

    def remove(self) -> None:
        self.down()
        shutil.rmtree(self.root, ignore_errors=True)
