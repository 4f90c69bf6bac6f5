# Sourced by scripts/cuda-check.sh and scripts/gpu-bundle.sh: installs CUDA 13.0's compiler and
# headers from PyPI (`scripts/install-deps.sh --with-cuda`, into ~/.cache/atoma-cuda) and points
# candle's and cudarc's build scripts at them. There is no GPU here, so the kernels' architecture
# and the CUDA version cudarc binds to are named, not detected: sm_90 (Hopper, the H200 of the
# project's GPU machines) and 13.0 (their driver 580's version).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
CUDA_COMPUTE_CAP=90
"$(dirname "${BASH_SOURCE[0]}")/install-deps.sh" --with-cuda >/dev/null
CUDA_ROOT="$(ls -d "$ATOMA_CUDA_DIR"/venv/lib/python3*/site-packages/nvidia/cu13 | head -n 1)"
export PATH="$CUDA_ROOT/bin:$PATH"
export CUDA_ROOT CUDA_PATH="$CUDA_ROOT" CUDA_TOOLKIT_ROOT_DIR="$CUDA_ROOT" CUDA_COMPUTE_CAP
export CUDARC_CUDA_VERSION="${ATOMA_CUDA_VERSION/./0}0"
