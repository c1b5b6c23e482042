"""``python -m collector``: the same as ``logpipe collector``."""

from collector.cli import app

app(prog_name="collector")
