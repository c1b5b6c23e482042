"""The ``logpipe`` root command: dispatches to each program's own command line, and
the generated settings reference of every program."""
