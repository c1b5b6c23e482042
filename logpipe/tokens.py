"""API tokens are stored as their SHA-256 hex digest, never in clear: the tokens
file the Log API reads and the one the local stack writes use this one function."""

from __future__ import annotations

import hashlib


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
