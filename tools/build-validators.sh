#!/usr/bin/env bash
# Build the real validators the deploy tests run, once per machine, from the Go
# module proxy: helm (lint / template the chart) and composecheck (loads
# docker-compose.yml with compose-go, the Compose v2 CLI's own loader).
# Binaries are cached under ${LOGPIPE_TOOLS_BIN:-~/.cache/logpipe/bin} with the
# version in the name, so a version bump rebuilds and a rerun costs nothing.
# Prints the absolute paths of the two binaries, one per line.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
COMPOSE_GO_VERSION="$(awk '$1 == "require" && $2 ~ /compose-go/ {print $3}' \
  "$(dirname "$0")/composecheck/go.mod")"
BIN="${LOGPIPE_TOOLS_BIN:-$HOME/.cache/logpipe/bin}"
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$BIN"

command -v go >/dev/null || { echo "build-validators: Go is needed (go.dev toolchain)" >&2; exit 2; }

# Concurrent test runs (or engineers) share the cache: build under a lock.
exec 9>"$BIN/.build.lock"
flock 9

# Like helm's Makefile: the default Kubernetes version of `helm template` and of
# lint's deprecation checks comes from the client-go helm is built with (v0.N ->
# 1.N); without it helm assumes 1.20.
helm_gomod="$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
k8s_minor="$(awk '$1 == "k8s.io/client-go" {split($2, v, "."); print v[2]}' "$helm_gomod")"
helm="$BIN/helm-$HELM_VERSION-k8s1.$k8s_minor"
if [[ ! -x "$helm" ]]; then
  echo "build-validators: building helm $HELM_VERSION (a few minutes the first time)" >&2
  tmp="$(mktemp -d)"
  # -s -w: no debug info, a smaller binary and a faster link on small machines.
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in pkg/lint/rules pkg/chartutil; do
    ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
  done
  GOBIN="$tmp" GOFLAGS=-mod=mod go install -trimpath -ldflags "$ldflags" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
  mv "$tmp/helm" "$helm.partial" && mv "$helm.partial" "$helm"
  rm -rf "$tmp"
fi

compose="$BIN/composecheck-$COMPOSE_GO_VERSION"
# The source is ours and small: rebuild when it is newer than the binary.
if [[ ! -x "$compose" || "$HERE/composecheck/main.go" -nt "$compose" ]]; then
  echo "build-validators: building composecheck (compose-go $COMPOSE_GO_VERSION)" >&2
  (cd "$HERE/composecheck" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" \
    -o "$compose.partial" . ) >&2
  mv "$compose.partial" "$compose"
fi

echo "$helm"
echo "$compose"
