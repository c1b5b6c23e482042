"""logpipe's small shared package: the record contract, levels, settings helpers,
the ``logpipe`` command line and the local stack manager."""

__version__ = "0.1.0"
