#!/usr/bin/env bash
# Builds natsmock-driver-nats-go (offline) and tests it against nats-server
# 2.9.10 on an ephemeral port: the DRIVER-PROTOCOL.md example and every
# command, with ../nats-js/driver-test.js (plain Node, no packages needed).
# Exit 0 when every check passes, 1 otherwise. Bounded: 120 s in all.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
OUT="$bin" "$here/build.sh"
timeout -k 5 120 node "$here/../nats-js/driver-test.js" --server "${NATS_SERVER:-nats-server}" -- \
  "$bin/natsmock-driver-nats-go"
