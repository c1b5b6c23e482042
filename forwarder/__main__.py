"""`python -m forwarder`: the same as `logpipe forwarder`."""

from forwarder.cli import app

if __name__ == "__main__":
    app(prog_name="python -m forwarder")
