"""`make bench` / `python -m bench [part ...]`: run each part's benchmark in turn.

Each part's module prints its own table with a peer measured in the same run, so
the numbers are ratios on this machine today, not absolute claims.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

PARTS = ("collector", "forwarder", "log_api", "e2e", "kube", "client", "chaos", "levels")
# Only when named: starts a 3-broker, 3-node cluster beside the stack (a few GB).
ON_REQUEST = ("cluster",)


def main(argv: list[str]) -> int:
    chosen = argv or list(PARTS)
    unknown = [p for p in chosen if p not in PARTS + ON_REQUEST]
    if unknown:
        print(f"unknown part(s) {unknown}; choose from {list(PARTS + ON_REQUEST)}", file=sys.stderr)
        return 2
    for part in chosen:
        if importlib.util.find_spec(f"bench.{part}") is None:
            print(f"== {part}: no benchmark yet")
            continue
        print(f"== {part}", flush=True)
        module = importlib.import_module(f"bench.{part}")
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
