#!/usr/bin/env bash
# Runs the FRAME benchmarks (v2) of this chain's pallets and regenerates their weights.rs.
#
#   scripts/benchmark-pallets.sh [pallet ...]     # default: every pallet below
#
# Needs `frame-omni-bencher` 0.28.0 (the stable2609 build), which `scripts/install-deps.sh
# --with-benchmarks` installs on the first run (about 30 min on 2 cores; docs/build.md).
#
# The runtime is built with `--features runtime-benchmarks` in its own target dir, so the
# benchmark wasm never replaces the one the node embeds. Run on an idle machine: the numbers are
# wall-clock measurements. Set STEPS/REPEAT to trade time for precision.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

BENCH_TARGET_DIR=${BENCH_TARGET_DIR:-$HOME/.cache/atoma-bench/target}
OMNI_ROOT=${OMNI_ROOT:-$HOME/.cache/omni-bencher}
STEPS=${STEPS:-50}
REPEAT=${REPEAT:-20}
PALLETS=("$@")
if [ ${#PALLETS[@]} -eq 0 ]; then
	PALLETS=(node-registry model-registry inference disputes oracle validator-set emission model-validators)
fi

bencher=$(command -v frame-omni-bencher || true)
if [ -z "$bencher" ]; then
	OMNI_ROOT=$OMNI_ROOT scripts/install-deps.sh --with-benchmarks
	bencher="$OMNI_ROOT/bin/frame-omni-bencher"
fi

CARGO_TARGET_DIR=$BENCH_TARGET_DIR cargo build --release --locked -p atoma-runtime \
	--features runtime-benchmarks
wasm=$BENCH_TARGET_DIR/release/wbuild/atoma-runtime/atoma_runtime.compact.compressed.wasm
# The raw results too: scripts/benchmark-scale.sh reads its table from them (FROM=...).
mkdir -p "$BENCH_TARGET_DIR/bench-json"

for dir in "${PALLETS[@]}"; do
	pallet=pallet_${dir//-/_}
	echo "benchmarking $pallet (steps $STEPS, repeat $REPEAT)"
	"$bencher" v1 benchmark pallet \
		--runtime "$wasm" \
		--genesis-builder-preset development \
		--pallet "$pallet" --extrinsic '*' \
		--steps "$STEPS" --repeat "$REPEAT" \
		--template scripts/weights-template.hbs \
		--json-file "$BENCH_TARGET_DIR/bench-json/$pallet.json" \
		--output "pallets/$dir/src/weights.rs"
done
