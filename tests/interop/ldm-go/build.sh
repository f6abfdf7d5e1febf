#!/usr/bin/env bash
# Builds nm-interop-ldm-go offline against Debian's nats.go (1.22.1,
# golang-github-nats-io-go-nats-dev) in GOPATH mode, as the nats.go driver
# is built: no module proxy, no network. Output: $OUT/nm-interop-ldm-go.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here}
mkdir -p "$out"
cache=${GOCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/natsmock-go-build}
cd "$here"
GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= GOCACHE="$cache" \
  go build -o "$out/nm-interop-ldm-go" main.go
