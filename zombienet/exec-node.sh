#!/usr/bin/env bash
# An execution node as zombienet starts it: zombienet's `atoma-node` arguments, plus the node's own
# inference worker with the default model, as an operator runs them (docs/operators.md).
#
#   exec-node.sh <atoma-node arguments>        (zombienet's `command` for an execution node)
#
# Environment (the network definition sets it per node):
#   ATOMA_NODE_BIN, ATOMA_WORKER_BIN, ATOMA_MODEL_GGUF   the binaries and the model
#   ATOMA_WORKER_PORT    the worker's operator port; its public port (the URL the node registers)
#                        is the next one
#   ATOMA_WORKER_SURI    the worker key's secret URI, inserted into the node's keystore (`atom`)
#   ATOMA_WORKER_ARGS    more worker arguments, e.g. a fault mode for a cheating worker:
#                        `--fault tamper-tokens --i-know-this-worker-cheats` (workers built with
#                        the `fault-injection` feature, as scripts/zombienet.sh builds them)
#   ATOMA_ZOMBIENET_STATE  a directory for the worker's pid (`<name>-worker.pid`): the tests kill
#                        a worker by it
#
# The worker reads its stdin from a pipe that the node inherits: when zombienet stops or kills the
# node, the pipe closes and the worker drains and exits (`--exit-on-stdin-close`).
set -euo pipefail

arg() {
	local name=$1
	shift
	while [ $# -gt 1 ]; do
		if [ "$1" = "$name" ]; then
			echo "$2"
			return
		fi
		shift
	done
	echo "exec-node.sh: zombienet passed no $name" >&2
	exit 2
}
base=$(arg --base-path "$@")
chain=$(arg --chain "$@")
name=$(arg --name "$@")
rpc_port=$(arg --rpc-port "$@")
port=${ATOMA_WORKER_PORT:?set ATOMA_WORKER_PORT}

# The worker key, as an operator creates it (step 4 of docs/operators.md).
"$ATOMA_NODE_BIN" key insert --base-path "$base" --chain "$chain" \
	--key-type atom --scheme sr25519 --suri "${ATOMA_WORKER_SURI:?set ATOMA_WORKER_SURI}"

read -r -a extra_worker_args <<<"${ATOMA_WORKER_ARGS:-}"
mkdir -p "$base"
exec {worker_stdin}> >(exec "$ATOMA_WORKER_BIN" --exit-on-stdin-close ${extra_worker_args[@]+"${extra_worker_args[@]}"} \
	--model "smollm2-135m-instruct=${ATOMA_MODEL_GGUF:?set ATOMA_MODEL_GGUF}" \
	--listen "127.0.0.1:$port" --public-listen "127.0.0.1:$((port + 1))" \
	--node-rpc-url "http://127.0.0.1:$rpc_port" --output-dir "$base/worker-outputs" \
	>"$base/worker.log" 2>&1)
echo $! >"${ATOMA_ZOMBIENET_STATE:?set ATOMA_ZOMBIENET_STATE}/$name-worker.pid"

# Execution nodes are not authorities: their off-chain worker runs anyway.
exec "$ATOMA_NODE_BIN" "$@" --offchain-worker always --inference-worker-url "http://127.0.0.1:$port"
