"""``python -m logpipe.demo``: the demo generator, as the stack's service runner starts it."""

from logpipe.demo.cli import app

if __name__ == "__main__":
    app(prog_name="logpipe demo")
