#!/usr/bin/env bash
# The whole test suite: dependency hygiene checks, then every crate's unit and integration tests
# (the integration tests start real node and worker processes; the worker's run the real model).
#
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/install-deps.sh --with-cuda

# The build check of the worker's cuda feature (CUDA 13.0 from PyPI, no GPU needed) runs in the
# background from here on, at the lowest priority and in a target directory of its own: cold, it
# is 10 to 20 minutes of nvcc and rustc that fit in the CPU the builds below leave idle and the
# end-to-end tests spend waiting for blocks (docs/build.md). Its output follows the tests.
# Each background job leads a session of its own (setsid), so that a failure stops all of it:
# cargo, rustc and nvcc, or the nodes and workers of the client tests (`-w`: should setsid have
# to fork, it still waits and gives the job's exit status). A new session is also a
# new scheduling group where Linux groups by session (`sched_autogroup`, on by default), and
# groups share the CPU equally whatever their processes' nice values: so the check lowers its
# group's priority too (/proc/self/autogroup), or it would take half of the two cores.
background_pids=()
stop_background() { local pid; for pid in "${background_pids[@]}"; do kill -- -"$pid" 2>/dev/null || true; done; }
trap stop_background EXIT
cuda_log="$(mktemp -t atoma-cuda-check.XXXXXX)"
setsid -w bash -c '{ echo 19 >/proc/self/autogroup; } 2>/dev/null; exec nice -n 19 scripts/cuda-check.sh' \
	>"$cuda_log" 2>&1 &
cuda_pid=$!
background_pids+=("$cuda_pid")

echo "==> client package and dashboard (the layouts a client checks answers with, against the primitives' vectors)"
(cd clients && node --test js/test/ dashboard/test/)

echo "==> dependency checks"
# One polkadot-sdk release line: no sp-*/sc-*/frame-*/pallet-* crate may appear in two versions.
dups=$(cargo tree --locked -d --workspace --depth 0 --prefix none 2>/dev/null \
	| awk '$1 ~ /^(sp|sc|frame|pallet|substrate)-/ {print $1, $2}' | sort -u | awk '{print $1}' | uniq -d || true)
# `cargo tree -d` may list one version twice (host and target builds); two versions of one name
# are what a mixed release line looks like.
if [ -n "$dups" ]; then
	echo "duplicated polkadot-sdk crates (mixed release lines):" >&2
	echo "$dups" >&2
	exit 1
fi
# No RocksDB: the node uses ParityDB only.
if cargo tree --locked --workspace -i librocksdb-sys >/dev/null 2>&1; then
	echo "librocksdb-sys is in the dependency tree" >&2
	exit 1
fi
# The inference worker shares only the primitives with the chain, never FRAME.
if cargo tree --locked -p atoma-inference-worker -i frame-support >/dev/null 2>&1; then
	echo "the inference worker depends on FRAME" >&2
	exit 1
fi
echo "    one polkadot-sdk release line, no RocksDB, no FRAME in the worker"

echo "==> model"
# The worker's tests run the real model (SmolLM2-135M-Instruct, fetched once, sha256-checked).
ATOMA_MODEL_GGUF="$(scripts/fetch-model.sh)"
export ATOMA_MODEL_GGUF

# The worker's fault-injection modes (a cheating worker for the dispute tests) are compiled in for
# the tests only: `scripts/run-dev.sh` builds without them.
FEATURES=(--features atoma-inference-worker/fault-injection)

echo "==> building (release)"
cargo build --release --locked --workspace "${FEATURES[@]}"

echo "==> tests"
# Five tests at once in each test binary, on any machine: the end-to-end tests' nodes and workers
# mostly wait for blocks (their nodes start from a raw spec and share the compiled runtime:
# `node/tests/common`), so the five dispute networks fit on two cores at once (docs/build.md).
cargo test --release --locked --workspace "${FEATURES[@]}" --no-fail-fast -- --test-threads=5

# The client package and the dashboard (headless Chromium) against real dev nodes and workers.
# They mostly wait for blocks, so they run while the benchmarks below compile; their output
# follows once both are done.
echo "==> client package and dashboard against real dev nodes and workers (clients/js/e2e, clients/dashboard/e2e): in the background"
clients_log="$(mktemp -t atoma-clients-e2e.XXXXXX)"
setsid -w bash -c 'cd clients && exec node --test js/e2e/ dashboard/e2e/' >"$clients_log" 2>&1 &
clients_pid=$!
background_pids+=("$clients_pid")

echo "==> pallet benchmarks (each FRAME benchmark runs once as a test)"
# Separate run: the `runtime-benchmarks` feature must not leak into the node and runtime builds
# above. SKIP_WASM_BUILD: pallets have no wasm of their own.
SKIP_WASM_BUILD=1 cargo test --release --locked --features runtime-benchmarks \
	-p pallet-node-registry -p pallet-model-registry -p pallet-inference -p pallet-disputes \
	-p pallet-oracle -p pallet-validator-set -p pallet-emission -p pallet-model-validators

echo "==> client package and dashboard against real dev nodes and workers: results"
clients_status=0
wait "$clients_pid" || clients_status=$?
cat "$clients_log"
rm -f "$clients_log"

echo "==> the worker's cuda feature compiles (scripts/cuda-check.sh, run in the background): results"
cuda_status=0
wait "$cuda_pid" || cuda_status=$?
trap - EXIT
cat "$cuda_log"
rm -f "$cuda_log"

if [ "$clients_status" -ne 0 ]; then
	echo "the client package's or the dashboard's end-to-end tests failed" >&2
	exit 1
fi
if [ "$cuda_status" -ne 0 ]; then
	echo "the worker's cuda feature does not compile (scripts/cuda-check.sh)" >&2
	exit 1
fi
