#!/usr/bin/env bash
# Installs rsyslog and its Kafka output (omkafka), the peer `python -m bench collector`
# measures the collector against. Idempotent. The bench runs its own rsyslogd in the
# foreground with its own config, so the package's system daemon must never start:
# services are held back during the install (policy-rc.d), and a system rsyslogd
# found running afterwards (its pid file /run/rsyslogd.pid) is stopped.
set -euo pipefail

have_omkafka() {
    command -v rsyslogd >/dev/null 2>&1 || return 1
    for dir in /usr/lib/x86_64-linux-gnu/rsyslog /usr/lib/aarch64-linux-gnu/rsyslog /usr/lib/rsyslog; do
        [ -e "$dir/omkafka.so" ] && return 0
    done
    return 1
}

stop_system_daemon() {
    local pidfile=/run/rsyslogd.pid pid
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = rsyslogd ]; then
        kill "$pid"
        echo "install-rsyslog: stopped the system rsyslogd (pid $pid) the package started"
    fi
}

if have_omkafka; then
    stop_system_daemon
    echo "install-rsyslog: $(rsyslogd -v | head -1 | sed "s/ *compiled with://") with omkafka already installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-rsyslog: skipped (needs root and apt-get); the bench leaves the rsyslog row out"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
    # Debian's maintainer scripts ask invoke-rc.d, which asks this file: 101 = do not start.
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    made_policy=1
fi
trap '[ -z "$made_policy" ] || rm -f "$policy"' EXIT
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends rsyslog rsyslog-kafka >/dev/null
stop_system_daemon
have_omkafka
echo "install-rsyslog: $(rsyslogd -v | head -1 | sed "s/ *compiled with://") with omkafka installed"
