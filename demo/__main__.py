"""``python -m demo``: the demo generator, as the stack's service runner starts it."""

from demo.cli import app

if __name__ == "__main__":
    app(prog_name="logpipe demo")
