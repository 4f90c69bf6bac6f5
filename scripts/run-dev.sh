#!/usr/bin/env bash
# Builds everything (release), fetches the default model, and starts a development chain paired
# with a local inference worker.
#
#   scripts/run-dev.sh [extra atoma-node flags]
#
# - The inference worker (`atoma-worker`) serves SmolLM2-135M-Instruct: its operator's address
#   127.0.0.1:8080 pairs it with the node (jobs, the OpenAI endpoints), its public address
#   127.0.0.1:8081 is the URL Alice's execution node registers in the dev genesis (users upload
#   inputs and read their answers there). Its log goes to $ATOMA_DEV_DIR/worker.log.
# - The node runs `--dev`: Alice validates alone (blocks every 3 s), her execution node is
#   registered and subscribed to the default model from genesis, and `--dev` puts her worker key
#   (`//Alice`, key type `atom`) in the keystore. `--inference-worker-url` pairs the node's
#   off-chain worker with the inference worker.
# - JSON-RPC (HTTP and WebSocket) listens on 127.0.0.1:9944; polkadot.js Apps:
#   https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A9944#/explorer
# - The dashboard (clients/dashboard) is served on http://127.0.0.1:8088 (ATOMA_DASHBOARD_PORT).
# State lives in a temporary directory dropped on exit. Ctrl-C stops every process.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/install-deps.sh
echo "==> building (release; the first build takes a while, see docs/build.md)"
# The whole workspace, like the test command, so both share one set of artifacts.
cargo build --release --locked --workspace

echo "==> model"
model="$(scripts/fetch-model.sh)"

dev_dir=${ATOMA_DEV_DIR:-$(mktemp -d -t atoma-dev.XXXXXX)}
worker_bin="$(dirname "$NODE_BIN")/atoma-worker"
# The worker asks the node whether another node may read an input uploaded to it by hash. It keeps
# the outputs of chain jobs for their owners in the dev directory: the dev chain starts afresh each
# time (its request ids with it), so its outputs do too.
rm -rf "$dev_dir/worker-outputs"
"$worker_bin" --model "smollm2-135m-instruct=$model" --listen 127.0.0.1:8080 \
	--public-listen 127.0.0.1:8081 --node-rpc-url http://127.0.0.1:9944 --output-dir "$dev_dir/worker-outputs" \
	>"$dev_dir/worker.log" 2>&1 &
worker_pid=$!
trap 'kill "$worker_pid" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 120); do
	if grep -q "listening on" "$dev_dir/worker.log" 2>/dev/null; then break; fi
	if ! kill -0 "$worker_pid" 2>/dev/null; then
		echo "the inference worker exited; its log:" >&2
		cat "$dev_dir/worker.log" >&2
		exit 1
	fi
	sleep 0.5
done

# The dashboard (clients/dashboard): the network in a browser, and a form to ask a question.
dashboard_port=${ATOMA_DASHBOARD_PORT:-8088}
node clients/dashboard/serve.mjs --port "$dashboard_port" --ws ws://127.0.0.1:9944 \
	>"$dev_dir/dashboard.log" 2>&1 &
dashboard_pid=$!
trap 'kill "$worker_pid" "$dashboard_pid" 2>/dev/null || true' EXIT INT TERM

cat <<MSG
==> inference worker: http://127.0.0.1:8080 (operator), http://127.0.0.1:8081 (public, the URL on
    chain); SmolLM2-135M-Instruct; log: $dev_dir/worker.log
==> starting a development chain (Alice validates alone and runs the execution node)
    dashboard:     http://127.0.0.1:$dashboard_port  (log: $dev_dir/dashboard.log)
    JSON-RPC:      http://127.0.0.1:9944  (also ws://127.0.0.1:9944)
    polkadot.js:   https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A9944#/explorer
    Stop with Ctrl-C.
MSG
"$NODE_BIN" --dev --rpc-port 9944 --rpc-cors all \
	--inference-worker-url http://127.0.0.1:8080 "$@"
