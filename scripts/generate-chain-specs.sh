#!/usr/bin/env bash
# Regenerates the committed chain specs in chain-spec/ from the runtime's genesis presets.
#
#   scripts/generate-chain-specs.sh
#
# For each network it writes the plain spec (human-readable genesis patch) and the raw spec
# (storage key/values, what nodes of one network must share byte for byte). Re-run after any
# runtime or preset change, and commit the result. `node/tests/chain_specs.rs` fails when a
# committed plain spec's genesis no longer matches its preset.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

scripts/install-deps.sh
cargo build --release --locked --workspace

export_spec() {
	local chain=$1 name=$2
	"$NODE_BIN" export-chain-spec --chain "$chain" >"chain-spec/$name.json"
	"$NODE_BIN" export-chain-spec --chain "chain-spec/$name.json" --raw >"chain-spec/$name-raw.json"
	echo "wrote chain-spec/$name.json and chain-spec/$name-raw.json"
}

mkdir -p chain-spec
export_spec local local
export_spec testnet-template testnet-template
