"""``logpipe <program> settings`` lists the settings of every program."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from cli.main import main

# program -> a setting only it has, and one of the renamed `_s` names where it has one
PROGRAMS = {
    "collector": ("LOGPIPE_STATE_DIR", "LOGPIPE_POD_METADATA_RETENTION_S"),
    "forwarder": ("LOGPIPE_CONSUMER_GROUP", "LOGPIPE_SHUTDOWN_TIMEOUT_S"),
    "api": ("LOGPIPE_TOKENS_FILE", "LOGPIPE_ES_REQUEST_TIMEOUT_S"),
    "events": ("LOGPIPE_LEASE_NAME", "LOGPIPE_CHECKPOINT_INTERVAL_S"),
    "journald": ("LOGPIPE_CURSOR_FILE", "LOGPIPE_RESTART_BACKOFF_MAX_S"),
}


@pytest.mark.parametrize("program", list(PROGRAMS))
def test_settings_lists_the_programs_settings(program: str) -> None:
    result = CliRunner().invoke(main, [program, "settings"])
    assert result.exit_code == 0, result.output
    own, renamed = PROGRAMS[program]
    assert own in result.output and renamed in result.output
    assert "LOGPIPE_KAFKA_BOOTSTRAP" in result.output


@pytest.mark.parametrize("program", ["forwarder", "events", "journald"])
def test_settings_as_a_real_process(program: str) -> None:
    # These three once exited 2 here (no `settings` subcommand).
    proc = subprocess.run([sys.executable, "-c", "from cli.main import main; main()",
                           program, "settings"], capture_output=True, timeout=60, text=True)
    assert proc.returncode == 0, proc.stderr
    assert PROGRAMS[program][0] in proc.stdout
