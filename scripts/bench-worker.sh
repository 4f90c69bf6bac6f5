#!/usr/bin/env bash
# Benchmark the inference worker (not a test): prompt tokens/s (prefill), generated tokens/s
# (decode), time to first token and peak resident memory, for a few prompt and output lengths.
#
# Usage: scripts/bench-worker.sh [--precision native|f32|quantized] [--threads N] [--reps N]
#                                [--cells 16x32,128x32,...]   (prompt tokens x max new tokens)
#   ATOMA_WORKER_BIN  the worker binary (default: target/release/atoma-worker under
#                     $CARGO_TARGET_DIR or ./target; build with `cargo build --release` first)
#   ATOMA_MODEL_GGUF  the model (default: models/SmolLM2-135M-Instruct.Q4_1.gguf, see
#                     scripts/fetch-model.sh)
#
# Each cell starts from a fresh KV cache (as every request does). Timings come from the worker's
# own per-job measurements (`timings` in GET /v1/jobs/{id}), so HTTP overhead is excluded; the
# best of --reps runs is reported after one warm-up request. Peak RSS is the worker process's
# VmHWM after all runs. Requests are greedy; sampling adds a softmax and a sort per token.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PRECISION=native
THREADS=""
REPS=3
CELLS="16x32,128x32,512x32,16x128,1024x128,2048x64"
while [[ $# -gt 0 ]]; do
	case "$1" in
		--precision) PRECISION="$2"; shift 2 ;;
		--threads) THREADS="$2"; shift 2 ;;
		--reps) REPS="$2"; shift 2 ;;
		--cells) CELLS="$2"; shift 2 ;;
		*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done

BIN="${ATOMA_WORKER_BIN:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/atoma-worker}"
MODEL="${ATOMA_MODEL_GGUF:-$REPO_ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
[[ -x "$BIN" ]] || { echo "worker binary not found at $BIN (cargo build --release)" >&2; exit 1; }
[[ -f "$MODEL" ]] || { echo "model not found at $MODEL (run scripts/fetch-model.sh)" >&2; exit 1; }

OUT="$(mktemp)"
trap 'kill "$PID" 2>/dev/null || true; rm -f "$OUT"' EXIT
if [[ -n "$THREADS" ]]; then export RAYON_NUM_THREADS="$THREADS"; fi
RUST_LOG=warn "$BIN" --model "$MODEL" --precision "$PRECISION" --listen 127.0.0.1:0 \
	--max-tokens-limit 4096 >"$OUT" 2>/dev/null &
PID=$!
for _ in $(seq 1 600); do
	grep -q "listening on" "$OUT" 2>/dev/null && break
	kill -0 "$PID" 2>/dev/null || { echo "worker exited during start-up" >&2; exit 1; }
	sleep 0.1
done
URL="$(sed -n 's/^atoma-worker listening on //p' "$OUT")"
RSS_IDLE_KB="$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")"

echo "# atoma-worker benchmark: $(basename "$MODEL"), precision=$PRECISION, RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-default}, $(nproc) CPUs"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), best of $REPS"
python3 - "$URL" "$REPS" "$CELLS" <<'PY'
import json, sys, time, urllib.request

url, reps = sys.argv[1], int(sys.argv[2])
cells = [tuple(int(x) for x in c.split("x")) for c in sys.argv[3].split(",")]

def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.load(r)

def run(prompt_len, out_len):
    # A prompt of exactly `prompt_len` tokens (token id 260 = " the"), greedy, no early stop:
    # `stop_token_ids` cannot remove the model's EOS, so long outputs may stop early; the table
    # reports the real count.
    body = {"prompt": [260] * prompt_len, "max_tokens": out_len}
    r = call("POST", "/v1/completions", body)
    job = call("GET", f"/v1/jobs/{r['atoma']['job_id']}")
    t = job["timings"]
    gen = job["usage"]["completion_tokens"]
    return t["prefill_ms"], t["time_to_first_token_ms"], t["total_ms"], gen

call("POST", "/v1/completions", {"prompt": "warm up", "max_tokens": 4})
print(f"| prompt tokens | max new tokens | generated | prefill tok/s | decode tok/s | TTFT ms | total ms |")
print(f"|---:|---:|---:|---:|---:|---:|---:|")
for prompt_len, out_len in cells:
    best = None
    for _ in range(reps):
        prefill, ttft, total, gen = run(prompt_len, out_len)
        if best is None or total < best[2]:
            best = (prefill, ttft, total, gen)
    prefill, ttft, total, gen = best
    decode = (gen - 1) / ((total - ttft) / 1e3) if gen > 1 and total > ttft else float("nan")
    print(f"| {prompt_len} | {out_len} | {gen} | {prompt_len / (prefill / 1e3):.0f} | {decode:.1f} "
          f"| {ttft:.0f} | {total:.0f} |", flush=True)
PY
RSS_PEAK_KB="$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")"
echo
echo "peak RSS: $((RSS_PEAK_KB / 1024)) MiB (after model load, before requests: $((RSS_IDLE_KB / 1024)) MiB)"
