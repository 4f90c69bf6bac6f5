#!/usr/bin/env bash
# Runs on a lent GPU machine (the device tool; docs/gpu.md, "Running on a lent GPU machine"), from
# the repository root, with the parts written by scripts/gpu-bundle.sh under gpu-bundle/. It asserts
# nothing and keeps going past a failed step: it records, under $OUT, what a session needs for
# docs/gpu.md and docs/determinism.md.
#
#   scripts/gpu-device-check.sh               # on the GPU machine
#
# Rehearsal here, without a GPU (the stubs stand in for CUDA's libraries, everything runs on the
# CPU, and a short benchmark):
#   ATOMA_GPU_CHECK_DEVICE=cpu ATOMA_GPU_CHECK_STUBS=~/.cache/atoma-cuda/13.0/link-stubs \
#   ATOMA_GPU_CHECK_CELLS=16x16 ATOMA_GPU_CHECK_CONCURRENCY=1,4 ATOMA_GPU_CHECK_CONCURRENCY_CELL=16x16 \
#   OUT=/tmp/gpu-rehearsal \
#   scripts/gpu-device-check.sh
#
# $OUT/report.md gets, in this order (the cheapest first, in case the device time runs out):
# 1. the machine: GPU, driver, CUDA, CPU; the worker's dynamic libraries as resolved there;
# 2. determinism: scripts/determinism-check.py's four requests (greedy and sampled) against
#    - cuda f32, twice in one process, once with eleven other requests in flight, and in a second
#      process: the same lines expected;
#    - cuda quantized (candle's GGUF kernels), twice;
#    - the same binary on the machine's CPU: f32 (GPU against CPU) and native (this CPU model
#      against the reference the bundle recorded on the build machine's CPU, and each kernel
#      tier forced: scalar, avx2, and the best this CPU has);
# 3. the benchmark: scripts/bench-engine.py --device cuda --no-peer, with the throughput table.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/worker-process.sh

DEVICE="${ATOMA_GPU_CHECK_DEVICE:-cuda}"
OUT="${OUT:-/tmp/atoma-gpu-out}"
WORK="${ATOMA_GPU_CHECK_WORK:-/tmp/atoma-gpu}"
mkdir -p "$OUT" "$WORK/lib"
REPORT="$OUT/report.md"
: >"$REPORT"
say() { printf '%s\n' "$*" | tee -a "$REPORT"; }
block() { say '```'; "$@" 2>&1 | tee -a "$REPORT"; say '```'; }

say "# GPU device check, $(date -u +%FT%TZ), device $DEVICE"
say
say "## 1. Machine"
if [ ! -x "$WORK/atoma-worker" ]; then
	cat gpu-bundle/part-* | gunzip | tar -x -C "$WORK" || { say "the bundle did not unpack"; exit 1; }
fi
block sh -c "cd '$WORK' && sha256sum -c SHA256SUMS"
block sh -c "nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1; nvidia-smi 2>&1 | sed -n 3p"
block sh -c "grep -m1 'model name' /proc/cpuinfo; nproc; grep -m1 -o 'avx512_vnni' /proc/cpuinfo || echo 'no avx512_vnni'"

# CUDA's libraries: the driver's folders, the toolkit's, and PyTorch's NVIDIA wheels. A soname the
# worker was linked against (scripts/gpu-bundle.sh) but that the machine has under another minor
# version is linked to it here, and the report says so.
lib_dirs="$WORK/lib"
for dir in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu \
	$(python3 -c 'import nvidia, os; p = nvidia.__path__[0]; print(" ".join(os.path.join(p, d, "lib") for d in sorted(os.listdir(p))))' 2>/dev/null); do
	[ -d "$dir" ] && lib_dirs="$lib_dirs:$dir"
done
export LD_LIBRARY_PATH="$lib_dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ "$DEVICE" = cpu ] && [ -n "${ATOMA_GPU_CHECK_STUBS:-}" ]; then
	export LD_LIBRARY_PATH="$ATOMA_GPU_CHECK_STUBS:$LD_LIBRARY_PATH"
fi
for soname in $(ldd "$WORK/atoma-worker" | awk '/not found/ { print $1 }'); do
	stem="${soname%%.so*}"
	candidate="$(IFS=:; for d in $LD_LIBRARY_PATH; do ls "$d/$stem".so.* 2>/dev/null; done | sort -V | tail -n 1)"
	[ -n "$candidate" ] && ln -sf "$candidate" "$WORK/lib/$soname" && say "linked $soname -> $candidate"
done
block sh -c "ldd '$WORK/atoma-worker' | grep -E 'cuda|cublas|curand|nvrtc|not found'"

# start_worker PRECISION DEVICE [ARGS]: starts a worker, sets $URL ("" if it did not start) and
# $PID.
start_worker() {
	local log="$OUT/worker-$1-$2-$RANDOM.log"
	spawn_worker "$WORK" env RUST_LOG=warn "$WORK/atoma-worker" --model "$WORK/model.gguf" \
		--precision "$1" --device "$2" --listen 127.0.0.1:0 --output-dir "$WORK/outputs" "${@:3}" \
		2>"$log" && return
	say "the worker ($1 on $2) did not start:"
	block tail -n 20 "$log"
}
stop_worker() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
check() { # check NAME [--concurrent]: the four requests' lines into $OUT/det-NAME.txt
	timeout 300 python3 scripts/determinism-check.py "${@:2}" "$URL" >"$OUT/det-$1.txt" 2>&1
	say "### $1"; block cat "$OUT/det-$1.txt"
}
same() { # same A B: whether two runs printed the same lines
	if cmp -s "$OUT/det-$1.txt" "$OUT/det-$2.txt"; then say "- $1 = $2: identical"
	else say "- $1 vs $2: DIFFERENT"; fi
}

say
say "## 2. Determinism"
start_worker f32 "$DEVICE"
if [ -n "$URL" ]; then
	check f32-run1; check f32-run2; check f32-concurrent --concurrent
	block sh -c "curl -s '$URL/v1/models'"
fi
stop_worker
start_worker f32 "$DEVICE"
[ -n "$URL" ] && check f32-process2
stop_worker
start_worker quantized "$DEVICE"
[ -n "$URL" ] && { check quantized-run1; check quantized-run2; }
stop_worker
start_worker f32 cpu
[ -n "$URL" ] && check cpu-f32
stop_worker
start_worker native cpu
[ -n "$URL" ] && check cpu-native
stop_worker
# The native engine's kernel tiers on this CPU model: the same bits on each, by construction.
for tier in scalar avx2; do
	start_worker native cpu --kernel-tier "$tier"
	[ -n "$URL" ] && check "cpu-native-$tier"
	stop_worker
done
say
say "Comparisons:"
same f32-run1 f32-run2; same f32-run1 f32-concurrent; same f32-run1 f32-process2
same quantized-run1 quantized-run2; same f32-run1 cpu-f32
for reference in "$WORK"/reference-*.txt; do
	cp "$reference" "$OUT/det-$(basename "$reference" .txt).txt"
	say "### $(basename "$reference" .txt) (recorded by gpu-bundle.sh on the build machine)"
	block cat "$reference"
done
same cpu-native reference-native; same cpu-f32 reference-f32
same cpu-native cpu-native-scalar; same cpu-native cpu-native-avx2

say
say "## 3. Benchmark"
block timeout 420 python3 scripts/bench-engine.py --worker "$WORK/atoma-worker" --model "$WORK/model.gguf" \
	--device "$DEVICE" --no-peer --precision f32 --threads "$(nproc)" --reps 3 \
	--cells "${ATOMA_GPU_CHECK_CELLS:-16x128,128x128,1024x128}" \
	--concurrency "${ATOMA_GPU_CHECK_CONCURRENCY:-1,2,4,8,16}" \
	--concurrency-cell "${ATOMA_GPU_CHECK_CONCURRENCY_CELL:-16x128}"
say "done $(date -u +%FT%TZ)"
