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
# does not link (scripts/gpu-bundle.sh links, against stub libraries, for a lent GPU machine).
# It uses gpu-bundle.sh's target directory (`$CARGO_TARGET_DIR-cuda`): the cuda feature changes
# candle's features, and a directory of its own lets scripts/test.sh run this check in the
# background, beside the builds and tests in the default one, without waiting on its lock.
#
#   scripts/cuda-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cuda-env.sh
"$CUDA_ROOT/bin/nvcc" --version | tail -2

CUDA_TARGET_DIR="${CARGO_TARGET_DIR%/}-cuda"
echo "==> cargo check -p atoma-inference-worker --features cuda (CUDA $ATOMA_CUDA_VERSION, sm_$CUDA_COMPUTE_CAP, in $CUDA_TARGET_DIR)"
CARGO_TARGET_DIR="$CUDA_TARGET_DIR" cargo check --release --locked -p atoma-inference-worker --features cuda
echo "==> the cuda feature compiles"
