"""Route modules, one per topic, each exposing ``router``."""
