#!/usr/bin/env bash
# Build the real validators the deploy tests run, once per machine, from the Go
# module proxy: helm (lint / template the chart), composecheck (loads
# docker-compose.yml with compose-go, the Compose v2 CLI's own loader) and
# kubecheck (strict decoding of rendered manifests into client-go's types) and
# dockerfilecheck (BuildKit's Dockerfile frontend in lint mode, `build --check`).
# Binaries are cached under ${LOGPIPE_TOOLS_BIN:-~/.cache/logpipe/bin} with the
# version (and for our own checkers a hash of their source) in the name, so a version
# bump or an edit rebuilds and a rerun or a fresh clone costs nothing.
# Prints the absolute paths of the four binaries, one per line.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
BIN="${LOGPIPE_TOOLS_BIN:-$HOME/.cache/logpipe/bin}"
HERE="$(cd "$(dirname "$0")" && pwd)"

# modver GO.MOD MODULE: the version a go.mod requires (one-line or block form).
modver() { awk -v m="$2" '$1 == m {print $2} $1 == "require" && $2 == m {print $3}' "$1"; }
COMPOSE_GO_VERSION="$(modver "$HERE/composecheck/go.mod" github.com/compose-spec/compose-go/v2)"
KUBECHECK_CLIENT_GO="$(modver "$HERE/kubecheck/go.mod" k8s.io/client-go)"
BUILDKIT_VERSION="$(modver "$HERE/dockerfilecheck/go.mod" github.com/moby/buildkit)"
mkdir -p "$BIN"

# The toolchain's usual home, for shells whose PATH does not name it.
export PATH="$PATH:/usr/local/go/bin"
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

# Our own small Go checkers, named by a hash of their source: a changed source builds
# anew, and a fresh clone (whose files are all newer than the cache) reuses the build.
build_tool() {  # build_tool NAME OUTPUT_PREFIX: prints the binary's path
  local src="$HERE/$1" sum out
  sum="$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-12)"
  out="$2-$sum"
  if [[ ! -x "$out" ]]; then
    echo "build-validators: building $1" >&2
    (cd "$src" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out.partial" .) >&2
    mv "$out.partial" "$out"
  fi
  echo "$out"
}
compose="$(build_tool composecheck "$BIN/composecheck-$COMPOSE_GO_VERSION")"
kube="$(build_tool kubecheck "$BIN/kubecheck-client-go-$KUBECHECK_CLIENT_GO")"
dockerfile="$(build_tool dockerfilecheck "$BIN/dockerfilecheck-buildkit-$BUILDKIT_VERSION")"

echo "$helm"
echo "$compose"
echo "$kube"
echo "$dockerfile"
