#!/usr/bin/env bash
# Build check of the worker's `cuda` feature (candle's CUDA backend through cudarc), without a GPU,
# against CUDA 13.0: the version the project's GPU machines run (driver 580, nvcc 13.0). It
# proves that the CUDA code compiles: cudarc's bindings for that version and candle's kernels
# (nvcc compiles them to PTX for sm_90, the H200's Hopper architecture). No GPU test: that needs a
# GPU machine (docs/gpu.md).
#
# CUDA's compiler and headers come from PyPI, installed by `scripts/install-deps.sh --with-cuda`
# (which this script runs) into their own virtualenv under ~/.cache/atoma-cuda.
# `cargo check` compiles everything and runs the build scripts (so nvcc compiles every kernel) but
# does not link: linking needs libcuda, which only a machine with the NVIDIA driver has.
#
#   scripts/cuda-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

COMPUTE_CAP=90
scripts/install-deps.sh --with-cuda >/dev/null
NV="$(ls -d "$ATOMA_CUDA_DIR"/venv/lib/python3*/site-packages/nvidia | head -n 1)"
CUDA="$NV/cu13"
"$CUDA/bin/nvcc" --version | tail -2

# No GPU here, so the kernels' architecture is named, not detected, and so is the CUDA version
# cudarc binds to.
export PATH="$CUDA/bin:$PATH"
export CUDA_ROOT="$CUDA" CUDA_PATH="$CUDA" CUDA_TOOLKIT_ROOT_DIR="$CUDA"
export CUDA_COMPUTE_CAP="$COMPUTE_CAP"
export CUDARC_CUDA_VERSION="${ATOMA_CUDA_VERSION/./0}0"

echo "==> cargo check -p atoma-inference-worker --features cuda (CUDA $ATOMA_CUDA_VERSION, sm_$COMPUTE_CAP)"
cargo check --release --locked -p atoma-inference-worker --features cuda
echo "==> the cuda feature compiles"
