#!/usr/bin/env bash
# Builds natsmock-driver-nats-go offline against Debian's nats.go (1.22.1,
# golang-github-nats-io-go-nats-dev) in GOPATH mode: no module proxy, no
# network. Output: $OUT/natsmock-driver-nats-go, or next to this script
# when OUT is not set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here}
mkdir -p "$out"
cache=${GOCACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/natsmock-go-build}
cd "$here"
version=$(sed -n 's/^#define NM_VERSION "\(.*\)"/\1/p' ../../../proto/nm_version.h)
GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= GOCACHE="$cache" \
  go build -ldflags "-X main.natsmockVersion=${version:-dev}" \
  -o "$out/natsmock-driver-nats-go" main.go
