#!/usr/bin/env bash
# Build check of the worker's `cuda` feature (candle's CUDA backend through cudarc), without a GPU,
# against CUDA 13.0: the version the project's GPU machines run (driver 580, nvcc 13.0). It
# proves that the CUDA code compiles: cudarc's bindings for that version and candle's kernels
# (nvcc compiles them to PTX for sm_90, the H200's Hopper architecture). No GPU test: that needs a
# GPU machine (docs/gpu.md).
#
# CUDA's compiler and headers come from PyPI (`nvidia-cuda-nvcc`, `nvidia-cuda-runtime` and
# `nvidia-cuda-cccl` for libcu++'s `<nv/target>`, and nvcc's own parts `nvidia-nvvm` and
# `nvidia-cuda-crt`, which nvcc's wheel does not pin to its version; all pinned below), installed into their own virtualenv under ~/.cache/atoma-cuda the first time.
# `cargo check` compiles everything and runs the build scripts (so nvcc compiles every kernel) but
# does not link: linking needs libcuda, which only a machine with the NVIDIA driver has.
#
#   scripts/cuda-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

CUDA_PIP_VERSION="13.0.*"
CUDA_MAJOR_MINOR=13.0
COMPUTE_CAP=90
DIR="${ATOMA_CUDA_DIR:-$HOME/.cache/atoma-cuda/$CUDA_MAJOR_MINOR}"

nvidia_dir() {
	"$DIR/venv/bin/python" - <<'PY' 2>/dev/null
import nvidia
print(list(nvidia.__path__)[0])
PY
}

# CUDA 13's wheels share one tree, nvidia/cu13/{bin,include,nvvm,lib}: nvcc finds its headers
# and the runtime's next to itself.
if ! NV="$(nvidia_dir)" || [ ! -x "$NV/cu13/bin/nvcc" ] || [ ! -f "$NV/cu13/include/cuda_runtime.h" ] \
	|| [ ! -f "$NV/cu13/include/nv/target" ] \
	|| [ "$("$DIR/venv/bin/pip" list 2>/dev/null | grep -c "^nvidia-.* $CUDA_MAJOR_MINOR\.")" -lt 5 ]; then
	echo "==> installing CUDA $CUDA_MAJOR_MINOR's nvcc and headers from PyPI into $DIR/venv" >&2
	python3 -m venv "$DIR/venv"
	"$DIR/venv/bin/pip" install -q "nvidia-cuda-nvcc==$CUDA_PIP_VERSION" \
		"nvidia-cuda-runtime==$CUDA_PIP_VERSION" "nvidia-cuda-cccl==$CUDA_PIP_VERSION" \
		"nvidia-nvvm==$CUDA_PIP_VERSION" "nvidia-cuda-crt==$CUDA_PIP_VERSION"
	NV="$(nvidia_dir)"
fi
CUDA="$NV/cu13"
"$CUDA/bin/nvcc" --version | tail -2

# No GPU here, so the kernels' architecture is named, not detected, and so is the CUDA version
# cudarc binds to.
export PATH="$CUDA/bin:$PATH"
export CUDA_ROOT="$CUDA" CUDA_PATH="$CUDA" CUDA_TOOLKIT_ROOT_DIR="$CUDA"
export CUDA_COMPUTE_CAP="$COMPUTE_CAP"
export CUDARC_CUDA_VERSION="${CUDA_MAJOR_MINOR/./0}0"

echo "==> cargo check -p atoma-inference-worker --features cuda (CUDA $CUDA_MAJOR_MINOR, sm_$COMPUTE_CAP)"
cargo check --release --locked -p atoma-inference-worker --features cuda
echo "==> the cuda feature compiles"
