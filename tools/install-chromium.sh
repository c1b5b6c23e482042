#!/usr/bin/env bash
# Installs what the browser tests (pytest -m browser) need: Debian's chromium and
# chromium-driver, when missing. Idempotent and quiet; Playwright drives
# /usr/bin/chromium through executable_path, so no browser is downloaded by Playwright.
set -euo pipefail

if [ -x /usr/bin/chromium ] && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver \
    fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
