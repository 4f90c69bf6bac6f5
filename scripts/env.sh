# Sourced by the other scripts: one shared cargo target directory, so the run command, the test
# command and CI reuse each other's artifacts.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/atoma-ci/target}"
NODE_BIN="$CARGO_TARGET_DIR/release/atoma-node"
export NODE_BIN
# The CUDA toolkit of the worker's `cuda` build check (scripts/cuda-check.sh): CUDA 13.0, the
# version of the project's GPU machines, from PyPI, installed by `install-deps.sh --with-cuda`.
ATOMA_CUDA_VERSION=13.0
ATOMA_CUDA_DIR="${ATOMA_CUDA_DIR:-$HOME/.cache/atoma-cuda/$ATOMA_CUDA_VERSION}"
