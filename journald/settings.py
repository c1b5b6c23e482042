"""Settings of the ``logpipe journald`` role (env ``LOGPIPE_<FIELD>``)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from logpipe.settings import MetricsEndpoint


def default_cursor_file() -> str:
    """Root (the DaemonSet): /var/lib/logpipe. Anyone else cannot write there, so the
    user's state folder ($XDG_STATE_HOME, else ~/.local/state)."""
    if os.geteuid() == 0:
        return "/var/lib/logpipe/journald.cursor"
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(state) / "logpipe" / "journald.cursor")


class JournaldSettings(MetricsEndpoint):
    metrics_port_default = 9104
    renamed: ClassVar[dict[str, str]] = {
        "checkpoint_interval": "checkpoint_interval_s",
        "restart_backoff_max": "restart_backoff_max_s",
    }

    journald_enabled: str = Field("auto", pattern="^(auto|true|false)$", description=(
        "auto = run when a journal exists (else exit 0 saying so); true = fail without "
        "one; false = do nothing."))
    journalctl: str = Field("journalctl", description="The journalctl program to run.")
    journal_directory: str | None = Field(None, description="Read this journal directory "
                                          "(e.g. the host's /var/log/journal mounted into "
                                          "the pod); unset = the system journal.")
    journal_files: list[str] = Field(default_factory=list, description="Read these journal "
                                     "files instead (journalctl --file); JSON list in env.")
    units: list[str] = Field(default_factory=list, description="Only these units "
                             "(journalctl --unit, globs allowed); empty = every entry.")
    start_at: str = Field("head", pattern="^(head|tail)$", description="Without a saved "
                          "cursor: `head` ships the whole journal, `tail` only new entries.")
    cursor_file: str = Field(default_factory=default_cursor_file, description="Where the "
                             "cursor of the last acknowledged entry is kept (default: "
                             "/var/lib/logpipe/journald.cursor as root, else "
                             "$XDG_STATE_HOME or ~/.local/state, then "
                             "logpipe/journald.cursor).")
    namespace: str = Field("host", description="The records' namespace (tenant).")
    node_name: str = Field(default_factory=socket.gethostname,
                           description="Written into each record's `node`.")
    checkpoint_interval_s: float = Field(1.0, gt=0, description="Seconds between cursor saves.")
    queue_size: int = Field(10000, ge=1, description="About how many entries are read "
                            "ahead of Kafka; when full, journalctl is left blocked "
                            "(back-pressure, no drop).")
    restart_backoff_max_s: float = Field(30.0, gt=0, description="Cap of the delay before "
                                       "journalctl is started again after it exited.")
