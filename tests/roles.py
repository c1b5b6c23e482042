"""Run a long-lived role (events watcher, journald follower) on a thread in a test."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from logpipe.roles import Role

R = TypeVar("R", bound=Role)


class RunningRole(Generic[R]):
    """A role on a thread; ``stop()`` ends it the way SIGTERM does."""

    def __init__(self, role: R, after_stop: Callable[[], None] | None = None,
                 require_clean_exit: bool = True) -> None:
        self.role = role
        self.after_stop = after_stop
        self.require_clean_exit = require_clean_exit
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.role.run()
        except BaseException as exc:
            self.error = exc

    def stop(self) -> None:
        self.role.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()
        if self.after_stop is not None:
            self.after_stop()
        if self.require_clean_exit:
            assert self.error is None
