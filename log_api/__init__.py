"""log_api package."""
