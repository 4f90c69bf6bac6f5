#!/usr/bin/env bash
# Builds the node (release) and starts a single-validator development chain.
#
#   scripts/run-dev.sh [extra atoma-node flags]
#
# JSON-RPC (HTTP and WebSocket) listens on 127.0.0.1:9944. Open it in polkadot.js Apps:
#   https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A9944#/explorer
# State is kept in a temporary directory and dropped on exit (--tmp); pass --base-path DIR
# instead of relying on --dev's --tmp to keep it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/install-deps.sh
echo "==> building (release; the first build takes a while, see docs/build.md)"
# The whole workspace, like the test command, so both share one set of artifacts.
cargo build --release --locked --workspace

cat <<MSG
==> starting a development chain (Alice validates alone, blocks every 3 s)
    JSON-RPC:      http://127.0.0.1:9944  (also ws://127.0.0.1:9944)
    polkadot.js:   https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A9944#/explorer
    Stop with Ctrl-C.
MSG
exec "$NODE_BIN" --dev --rpc-port 9944 --rpc-cors all "$@"
