#!/usr/bin/env bash
# Builds the worker with its `cuda` feature here, where there is no GPU, and packs it with the
# default model into parts small enough for the device tool (64 MiB carried per call), for
# scripts/gpu-device-check.sh to run on a GPU machine (docs/gpu.md, "Running on a lent GPU
# machine"). The GPU machines have CUDA 13 and no Rust toolchain, so the binary is built here.
#
#   scripts/gpu-bundle.sh        # writes gpu-bundle/part-NN (git-ignored) and prints their list
#
# Linking: candle links cudarc's libraries dynamically (libcuda, libcublas, libcublasLt,
# libcurand, libnvrtc) and its quantized kernels against libcudart. libcudart comes with the CUDA
# wheels; the others are a driver's or a multi-hundred-megabyte download that the binary only
# needs at run time. So the link is made against stub libraries generated from cudarc's own
# bindings: every function cudarc declares, under the real library's soname, returning an error.
# The binary records the sonames and the GPU machine's real libraries answer at run time; run here
# with the stubs on LD_LIBRARY_PATH it starts and serves on the CPU (which is how this script
# checks it), and `--device cuda` fails with the stub's error instead of a missing library.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cuda-env.sh
source scripts/worker-process.sh

# A target directory of its own: the cuda feature changes candle's features, and sharing the
# default target directory would rebuild candle back and forth.
CUDA_TARGET_DIR="${CARGO_TARGET_DIR%/}-cuda"
STUBS="$ATOMA_CUDA_DIR/link-stubs"
BUNDLE=gpu-bundle
# The device tool carries 64 MiB a call, the working tree (about 8 MiB) included.
PART_MIB=48

cudarc_version="$(sed -n '/name = "cudarc"/{n;s/version = "\(.*\)"/\1/p}' Cargo.lock)"
find_cudarc() { ls -d "$HOME"/.cargo/registry/src/*/cudarc-"$cudarc_version" 2>/dev/null | head -n 1 || true; }
cudarc="$(find_cudarc)"
# A fresh machine has no sources unpacked yet.
if [ -z "$cudarc" ]; then cargo fetch --locked >/dev/null && cudarc="$(find_cudarc)"; fi
[ -d "$cudarc" ] || { echo "cudarc $cudarc_version's sources not found" >&2; exit 1; }
echo "==> link stubs from $cudarc"
mkdir -p "$STUBS"
# module of cudarc's bindings : link name : the real library's soname (CUDA 13)
for lib in driver:cuda:libcuda.so.1 nvrtc:nvrtc:libnvrtc.so.13 curand:curand:libcurand.so.10 \
	cublas:cublas:libcublas.so.13 cublaslt:cublasLt:libcublasLt.so.13; do
	IFS=: read -r module name soname <<<"$lib"
	# The declarations inside cudarc's `extern "C"` blocks, one per function.
	sed -n 's/^            fn \([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' "$cudarc/src/$module/sys/mod.rs" |
		sort -u | awk '{ printf "int %s(void) { return 34; /* CUDA_ERROR_STUB_LIBRARY */ }\n", $1 }' \
		>"$STUBS/$name.c"
	cc -shared -fPIC -o "$STUBS/lib$name.so" -Wl,-soname,"$soname" "$STUBS/$name.c"
	ln -sf "lib$name.so" "$STUBS/$soname"
done
# libcudart is the real one, under its link name and its soname.
ln -sf "$CUDA_ROOT/lib/libcudart.so.13" "$STUBS/libcudart.so"
ln -sf "$CUDA_ROOT/lib/libcudart.so.13" "$STUBS/libcudart.so.13"

echo "==> cargo build --release -p atoma-inference-worker --features cuda (sm_$CUDA_COMPUTE_CAP, into $CUDA_TARGET_DIR)"
CARGO_TARGET_DIR="$CUDA_TARGET_DIR" RUSTFLAGS="-L native=$STUBS" \
	cargo build --release --locked -p atoma-inference-worker --features cuda
WORKER="$CUDA_TARGET_DIR/release/atoma-worker"

MODEL="$(scripts/fetch-model.sh)"
rm -rf "$BUNDLE" && mkdir -p "$BUNDLE/payload"

# reference PRECISION: scripts/determinism-check.py's lines from this binary on this CPU (with the
# stubs), for the device check to compare the GPU machine's CPU with. It also proves the binary
# starts and serves.
reference() {
	echo "==> reference outputs, $1 on this CPU"
	spawn_worker "$BUNDLE" env LD_LIBRARY_PATH="$STUBS" RUST_LOG=warn "$WORKER" --model "$MODEL" \
		--precision "$1" --listen 127.0.0.1:0 --output-dir "$BUNDLE/outputs" ||
		{ echo "the worker did not start" >&2; exit 1; }
	python3 scripts/determinism-check.py "$URL" | tee "$BUNDLE/payload/reference-$1.txt"
	kill "$PID" && wait "$PID" || true
}
reference native
reference f32
rm -rf "$BUNDLE/outputs" "$BUNDLE/listening"
strip -o "$BUNDLE/payload/atoma-worker" "$WORKER"
cp "$MODEL" "$BUNDLE/payload/model.gguf"
(cd "$BUNDLE/payload" && sha256sum atoma-worker model.gguf reference-*.txt >SHA256SUMS)
tar -C "$BUNDLE/payload" -cf - . | gzip -1 | split -b "${PART_MIB}m" -d - "$BUNDLE/part-"
rm -rf "$BUNDLE/payload"
ls -l "$BUNDLE"
