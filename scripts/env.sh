# Sourced by the other scripts: one shared cargo target directory, so the run command, the test
# command and CI reuse each other's artifacts.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/atoma-ci/target}"
NODE_BIN="$CARGO_TARGET_DIR/release/atoma-node"
export NODE_BIN
