"""logpipe tests."""
