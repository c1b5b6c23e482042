#!/usr/bin/env bash
# Installs what the journald tests need: journalctl (systemd) and
# systemd-journal-remote, which writes real journal files. Idempotent and quiet.
set -euo pipefail

if command -v journalctl >/dev/null 2>&1 && [ -x /usr/lib/systemd/systemd-journal-remote ]; then
    exit 0
fi
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends systemd systemd-journal-remote >/dev/null
journalctl --version | head -1
