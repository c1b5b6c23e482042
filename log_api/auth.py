"""Bearer tokens and the namespaces each may read.

The tokens file stores SHA-256 hashes, never the tokens themselves::

    tokens:
      - name: pay-team                 # shown in logs and metrics, never the token
        sha256: 9f86d08...             # hex digest of the token
        namespaces: [pay, pay-jobs]
      - name: ops
        sha256: 60303ae...
        admin: true                    # every namespace

``python -m log_api.auth TOKEN`` prints the hash to put in the file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from logpipe.errors import ConfigError
from logpipe.tokens import hash_token


@dataclass(frozen=True, slots=True)
class Scope:
    """What one token may read: all namespaces (admin) or exactly these."""

    name: str
    token_hash: str
    namespaces: frozenset[str] | None  # None = every namespace

    @property
    def admin(self) -> bool:
        return self.namespaces is None

    def allows(self, namespace: str | None) -> bool:
        return self.namespaces is None or (namespace is not None and namespace in self.namespaces)


ANONYMOUS_ADMIN = Scope("anonymous", "anonymous", None)


class TokenStore:
    def __init__(self, scopes: dict[str, Scope]) -> None:
        self._by_hash = scopes

    @classmethod
    def load(cls, path: Path) -> TokenStore:
        try:
            doc = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"tokens file {path}: {exc}") from None
        return cls.from_obj(doc, str(path))

    @classmethod
    def from_obj(cls, doc: object, where: str = "tokens") -> TokenStore:
        if not isinstance(doc, dict) or not isinstance(doc.get("tokens"), list):
            raise ConfigError(f"{where}: expected a mapping with a 'tokens' list")
        scopes: dict[str, Scope] = {}
        for i, entry in enumerate(doc["tokens"]):
            if not isinstance(entry, dict):
                raise ConfigError(f"{where}: tokens[{i}] is not a mapping")
            unknown = set(entry) - {"name", "sha256", "namespaces", "admin"}
            if unknown:
                raise ConfigError(f"{where}: tokens[{i}] has unknown keys {sorted(unknown)}")
            digest = str(entry.get("sha256", "")).lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ConfigError(f"{where}: tokens[{i}].sha256 must be a 64-digit hex digest")
            name = str(entry.get("name") or f"token-{i}")
            admin = entry.get("admin", False) is True
            namespaces = entry.get("namespaces")
            if admin and namespaces:
                raise ConfigError(f"{where}: tokens[{i}] is admin and lists namespaces; pick one")
            if not admin and (
                not isinstance(namespaces, list)
                or not namespaces
                or not all(isinstance(n, str) and n for n in namespaces)
            ):
                raise ConfigError(
                    f"{where}: tokens[{i}] needs 'namespaces' (a non-empty list) or 'admin: true'"
                )
            if digest in scopes:
                raise ConfigError(f"{where}: tokens[{i}] repeats a hash")
            scopes[digest] = Scope(name, digest, None if admin else frozenset(namespaces or ()))
        return cls(scopes)

    def lookup(self, token: str) -> Scope | None:
        return self._by_hash.get(hash_token(token))

    def by_hash(self, digest: str) -> Scope | None:
        """The scope of a token known by its hash (a download ticket carries the hash)."""
        return self._by_hash.get(digest)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m log_api.auth TOKEN   (prints its sha256 for the tokens file)")
    print(hash_token(sys.argv[1]))


if __name__ == "__main__":
    main()
