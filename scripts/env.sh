# Sourced by the other scripts: one shared cargo target directory, so the run command, the test
# command and CI reuse each other's artifacts.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/atoma-ci/target}"
NODE_BIN="$CARGO_TARGET_DIR/release/atoma-node"
export NODE_BIN
# The CUDA toolkit of the worker's `cuda` build check (scripts/cuda-check.sh): CUDA 13.0, the
# version of the project's GPU machines, from PyPI, installed by `install-deps.sh --with-cuda`.
ATOMA_CUDA_VERSION=13.0
ATOMA_CUDA_DIR="${ATOMA_CUDA_DIR:-$HOME/.cache/atoma-cuda/$ATOMA_CUDA_VERSION}"

# For the scripts that run a chain from the release build and drive it with the clients: the node
# and worker binaries must be built, and the clients' packages are installed if they are not.
require_release_build_and_clients() {
	for bin in "$NODE_BIN" "$(dirname "$NODE_BIN")/atoma-worker"; do
		[ -x "$bin" ] || { echo "$bin is missing: build first (cargo build --release --workspace)" >&2; exit 1; }
	done
	[ -d clients/node_modules/@polkadot/api ] || (cd clients && npm ci --silent --no-audit --no-fund)
}

# For the benchmarks on a local three-node network (clients/local-network.mjs): the binaries and
# the model it needs, and a fresh folder for its logs.
prepare_network_bench() {
	require_release_build_and_clients
	MODEL="$(scripts/fetch-model.sh)"
	BENCH_DIR="$(mktemp -d -t atoma-bench.XXXXXX)"
	WORKER_BIN="$(dirname "$NODE_BIN")/atoma-worker"
	export NODE_BIN MODEL BENCH_DIR WORKER_BIN
	echo "==> logs in $BENCH_DIR" >&2
}
