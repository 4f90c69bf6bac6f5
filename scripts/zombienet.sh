#!/usr/bin/env bash
# The zombienet networks of zombienet/ (native provider: the nodes and workers run as local
# processes), for validators and for multi-node tests. Installs zombienet, builds the workspace
# and fetches the model first, like scripts/run-dev.sh.
#
#   scripts/zombienet.sh spawn NETWORK    start NETWORK and keep it running (Ctrl-C stops it)
#   scripts/zombienet.sh test NETWORK     run zombienet/tests/NETWORK.zndsl against a fresh NETWORK
#   scripts/zombienet.sh test all         every network's tests, one after the other
#
# NETWORK: validators (3 validators from chain-spec/local-raw.json), validators-fault (4
# validators: one is stopped, then restarted), inference (3 validators and 4 execution nodes,
# each with its own worker and the default model, one of the workers cheating). docs/validators.md says what each test checks;
# docs/build.md what CI covers instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

usage() {
	echo "usage: scripts/zombienet.sh spawn|test validators|validators-fault|inference|all" >&2
	exit 2
}
[ $# -eq 2 ] || usage
action=$1
network=$2
case "$action" in spawn | test) ;; *) usage ;; esac
case "$network" in
	validators | validators-fault | inference) networks=("$network") ;;
	all) [ "$action" = test ] || usage; networks=(validators validators-fault inference) ;;
	*) usage ;;
esac

scripts/install-deps.sh --with-zombienet
echo "==> building (release)"
# As the test command builds it: the worker's fault modes compiled in (the inference network's
# cheating worker asks for one; every other worker runs honestly), one set of artifacts for both.
cargo build --release --locked --workspace --features atoma-inference-worker/fault-injection
echo "==> model"
ATOMA_MODEL_GGUF="$(scripts/fetch-model.sh)"

# What the network definitions and the tests read (zombienet renders `{{NAME}}` from the
# environment).
ATOMA_REPO="$PWD"
ATOMA_NODE_BIN="$NODE_BIN"
ATOMA_WORKER_BIN="$(dirname "$NODE_BIN")/atoma-worker"
ATOMA_ZOMBIENET_STATE="$(mktemp -d -t atoma-zombienet.XXXXXX)"
export ATOMA_REPO ATOMA_NODE_BIN ATOMA_WORKER_BIN ATOMA_MODEL_GGUF ATOMA_ZOMBIENET_STATE
trap 'rm -rf "$ATOMA_ZOMBIENET_STATE"' EXIT

zombienet=zombienet/node_modules/.bin/zombienet
for net in "${networks[@]}"; do
	if [ "$action" = spawn ]; then
		echo "==> spawning zombienet/$net.toml (Ctrl-C stops it)"
		"$zombienet" spawn --provider native "zombienet/$net.toml"
	else
		echo "==> testing zombienet/$net.toml (zombienet/tests/$net.zndsl)"
		"$zombienet" test --provider native "zombienet/tests/$net.zndsl"
	fi
done
