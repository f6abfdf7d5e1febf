#!/usr/bin/env bash
# Tests natsmock-driver-nats-js-v3 against nats-server 2.9.10 on an ephemeral
# port: the DRIVER-PROTOCOL.md example and every command (../nats-js/driver-test.js).
# Exit 0 when every check passes, 1 otherwise. Bounded: 120 s in all.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/node_modules/@nats-io/transport-node" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
exec timeout -k 5 120 node "$here/../nats-js/driver-test.js" --server "${NATS_SERVER:-nats-server}" -- \
  "$here/natsmock-driver-nats-js-v3"
