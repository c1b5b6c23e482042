"""The programs' stderr console keeps a long path on one line when stderr is not a
terminal (rich wraps at 80 columns there), e.g. `logpipe stack up`'s log paths."""

from __future__ import annotations

import pytest

from logpipe.console import notes


def test_a_long_path_is_not_cut_when_stderr_is_a_pipe(capsys: pytest.CaptureFixture[str]) -> None:
    path = "/var/lib/logpipe-stack/" + "a-long-directory-name/" * 6 + "elasticsearch.log"
    notes().print(f"starting elasticsearch (log: {path}) [1/2]")
    err = capsys.readouterr().err
    assert err == f"starting elasticsearch (log: {path}) [1/2]\n"
