#!/usr/bin/env bash
# Installs openssl, which tests/kube/test_config.py uses to make a CA and certificates
# for the TLS tests (they fail, not skip, without it). Idempotent and quiet.
set -euo pipefail

if command -v openssl >/dev/null 2>&1; then
    exit 0
fi
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends openssl >/dev/null
openssl version
