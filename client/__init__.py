"""The ``logpipe`` client commands (logs, download, export, stats): HTTP clients of the
Log API, configured from flags, ``LOGPIPE_URL`` / ``LOGPIPE_TOKEN`` or a config file."""
