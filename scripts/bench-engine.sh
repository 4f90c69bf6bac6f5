#!/usr/bin/env bash
# The inference engine against llama.cpp (not a test; it asserts nothing): prompt (prefill) and
# decode tokens/s, time to first token and peak memory of the worker and of llama.cpp on the same
# GGUF file, the same prompts, the same machine and the same run, at each thread count. Prints a
# markdown table with the worker / llama.cpp ratios; the numbers are kept in docs/benchmarks.md.
#
#   scripts/bench-engine.sh [--threads 1,2] [--cells 16x128,128x128,1024x128] [--reps 3]
#                           [--precision native|f32|quantized] [--concurrency 1,2,4,8,16]
#                           [--concurrency-cell 16x128]
#
# llama.cpp comes from the package registry: `llama-cpp-python` (pinned below) is built from source
# for this CPU into its own virtualenv under ~/.cache/atoma-bench the first time (about 10 minutes
# on 2 cores); the test command never installs it. The worker is the release build
# (`cargo build --release` first) at its default precision unless `--precision` says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

LLAMA_CPP_PYTHON_VERSION=0.3.36
# llama.cpp is built for this CPU (-march=native) except for its AMX kernels: on the development
# VM (an Intel Xeon with AMX) they crash on this model's Q4_1 weights (SIGSEGV in
# ggml_backend_amx_mul_mat, 2026-12-05). GCC's explicit -mno-* flags win over -march=native
# whatever their order. The worker does use AMX, for batches of 17 tokens and more (prompts);
# ATOMA_WORKER_KERNEL_TIER=avx512-vnni measures it without.
LLAMA_CMAKE_ARGS="-DCMAKE_CXX_FLAGS=-mno-amx-int8 -DCMAKE_C_FLAGS=-mno-amx-int8"
VENV="${ATOMA_LLAMA_VENV:-$HOME/.cache/atoma-bench/llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION-noamx}"
WORKER_BIN="$(dirname "$NODE_BIN")/atoma-worker"
[ -x "$WORKER_BIN" ] || { echo "$WORKER_BIN is missing: cargo build --release first" >&2; exit 1; }
MODEL="$(scripts/fetch-model.sh)"

if ! "$VENV/bin/python" -c "import llama_cpp, numpy" 2>/dev/null; then
	echo "==> installing llama-cpp-python $LLAMA_CPP_PYTHON_VERSION into $VENV (builds llama.cpp)" >&2
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q --upgrade pip
	# --no-cache-dir: a wheel built earlier with other flags must not be reused.
	CMAKE_ARGS="$LLAMA_CMAKE_ARGS" "$VENV/bin/pip" install -q --no-cache-dir \
		"llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" numpy
fi

exec "$VENV/bin/python" scripts/bench-engine.py --worker "$WORKER_BIN" --model "$MODEL" "$@"
