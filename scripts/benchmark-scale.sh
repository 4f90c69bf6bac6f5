#!/usr/bin/env bash
# The scale benchmarks (issue 15): the calls and hooks whose cost could grow with the nodes of an
# echelon or the subscribers of a model, measured at 10, 100, 1,000 and 10,000 (a component
# `e` or `s` with n = 10^e, `--steps 4`). Prints one table row per benchmark: the median time,
# and storage reads and writes, at each size, and the ratio of the largest to the smallest.
#
#   scripts/benchmark-scale.sh            # runs them, REPEAT=10 by default
#   FROM=~/.cache/atoma-bench/target/bench-json scripts/benchmark-scale.sh
#                                         # the table of scripts/benchmark-pallets.sh's last run
#
# Uses the runtime built with `runtime-benchmarks` in scripts/benchmark-pallets.sh's target
# directory; the table goes to docs/benchmarks.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

BENCH_TARGET_DIR=${BENCH_TARGET_DIR:-$HOME/.cache/atoma-bench/target}
OMNI_ROOT=${OMNI_ROOT:-$HOME/.cache/omni-bencher}
REPEAT=${REPEAT:-10}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# pallet, benchmarks, the component that scales
runs=(
	"pallet_node_registry register_node,bid_price,add_collateral,deregister_node,withdraw_node,on_epoch_boundary s"
	"pallet_model_registry subscribe,unsubscribe,remove_model e"
	"pallet_inference select_at_scale,settle_at_scale e"
)

if [ -n "${FROM:-}" ]; then
	for run in "${runs[@]}"; do
		read -r pallet extrinsics component <<<"$run"
		cp "$FROM/$pallet.json" "$out/"
		echo "$component" >"$out/$pallet.component"
		echo "$extrinsics" >"$out/$pallet.only"
	done
else

bencher=$(command -v frame-omni-bencher || true)
if [ -z "$bencher" ]; then
	OMNI_ROOT=$OMNI_ROOT scripts/install-deps.sh --with-benchmarks
	bencher="$OMNI_ROOT/bin/frame-omni-bencher"
fi
CARGO_TARGET_DIR=$BENCH_TARGET_DIR cargo build --release --locked -p atoma-runtime \
	--features runtime-benchmarks
wasm=$BENCH_TARGET_DIR/release/wbuild/atoma-runtime/atoma_runtime.compact.compressed.wasm
for run in "${runs[@]}"; do
	read -r pallet extrinsics component <<<"$run"
	echo "benchmarking $pallet: $extrinsics at 10^$component (repeat $REPEAT)" >&2
	"$bencher" v1 benchmark pallet \
		--runtime "$wasm" \
		--genesis-builder-preset development \
		--pallet "$pallet" --extrinsic "$extrinsics" \
		--steps 4 --repeat "$REPEAT" \
		--json-file "$out/$pallet.json" >/dev/null
	echo "$component" >"$out/$pallet.component"
	echo "$extrinsics" >"$out/$pallet.only"
done
fi

python3 - "$out" <<'EOF'
import json, os, statistics, sys

out = sys.argv[1]
print("| benchmark | n = 10 | 100 | 1,000 | 10,000 | 10,000 / 10 |")
print("|---|---|---|---|---|---|")
for name in sorted(f for f in os.listdir(out) if f.endswith(".json")):
    pallet = name[: -len(".json")]
    component = open(os.path.join(out, pallet + ".component")).read().strip()
    only = open(os.path.join(out, pallet + ".only")).read().strip().split(",")
    for batch in json.load(open(os.path.join(out, name))):
        bench = batch["benchmark"]
        bench = bench if isinstance(bench, str) else bytes(bench).decode()
        if bench not in only:
            continue

        def at_size(rows):
            # The rows where every other component is at its largest value, by size.
            others = {}
            for r in rows:
                for c, v in r["components"]:
                    if c != component:
                        others[c] = max(others.get(c, v), v)
            by_size = {}
            for r in rows:
                comps = dict(r["components"])
                if component in comps and all(comps.get(c) == v for c, v in others.items()):
                    by_size.setdefault(comps[component], []).append(r)
            return by_size

        times, db = at_size(batch["time_results"]), at_size(batch["db_results"])
        cells, medians = [], {}
        for size in (1, 2, 3, 4):
            if size not in times:
                cells.append("-")
                continue
            t = statistics.median(r["extrinsic_time"] for r in times[size]) / 1000.0
            medians[size] = t
            rw = db.get(size) or times[size]
            reads = statistics.median(r["reads"] for r in rw)
            writes = statistics.median(r["writes"] for r in rw)
            cells.append(f"{t:,.1f} µs, {reads:.0f} r / {writes:.0f} w")
        ratio = f"{medians[4] / medians[1]:.2f}x" if 1 in medians and 4 in medians else "-"
        print(f"| `{pallet}::{bench}` | " + " | ".join(cells) + f" | {ratio} |")
EOF
