"""The worker against llama.cpp on the same GGUF file: run by scripts/bench-engine.sh.

Both engines get the same prompt token ids (token 260, " the", repeated to the cell's length, no
chat template), decode greedily from a fresh KV cache, and stop at the model's end of sequence or
the cell's token limit. Both are timed the same way, in process, without HTTP:

- TTFT: from the start of the prompt's evaluation to the first generated token (prefill plus one
  sampling step); prompt tok/s = prompt tokens / TTFT;
- decode tok/s: the tokens after the first, over the time after the first.

The worker reports these from its own clock (`timings` of `GET /v1/jobs/{id}`); llama.cpp is
driven token by token through llama-cpp-python's `Llama.eval`. The engines take turns, one run of
every cell each, `--reps` times (each in a fresh process, after one warm-up), and each cell's best
run is kept: the development VM's speed drifts over minutes, and alternating gives both engines
the same conditions. Peak RSS: the worker process's VmHWM; for llama.cpp, the peak of a
Python process that loads only llama-cpp-python and numpy (about 40 MiB of it is Python's own).

`--concurrency 1,2,4,8,16` adds the throughput table: N requests sent to the worker at once (the
same prompt length and token limit, through the HTTP API, as clients would), total generated
tokens over the wall time from the first request to the last answer, against the worker's own
single stream and llama.cpp's (which serves one request at a time: its throughput at any
concurrency is its single stream's).

`--device cuda --no-peer` measures the worker alone on a GPU (scripts/gpu-device-check.sh): the
GPU machines have no llama.cpp build, and no ratio is printed.
"""

import argparse
import concurrent.futures
import json
import os
import resource
import subprocess
import sys
import time
import urllib.request

PROMPT_TOKEN = 260


def parse_cells(text):
    return [tuple(int(x) for x in cell.split("x")) for cell in text.split(",")]


def best(runs):
    """The run with the shortest total time."""
    return min(runs, key=lambda r: r["total_ms"])


def summary(prompt_len, run):
    gen, ttft, total = run["generated"], run["ttft_ms"], run["total_ms"]
    decode = (gen - 1) / ((total - ttft) / 1e3) if gen > 1 and total > ttft else float("nan")
    return {
        "generated": gen,
        "prompt_tps": prompt_len / (ttft / 1e3),
        "decode_tps": decode,
        "ttft_ms": ttft,
    }


def measure_worker(args, threads, cells):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), RUST_LOG="warn")
    worker = subprocess.Popen(
        [args.worker, "--model", args.model, "--precision", args.precision,
         "--device", args.device, "--listen", "127.0.0.1:0", "--max-tokens-limit", "4096"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        line = worker.stdout.readline()
        if "listening on" not in line:
            sys.exit(f"the worker did not start: {line!r}")
        url = line.split("listening on ", 1)[1].strip()

        def call(method, path, body=None):
            data = json.dumps(body).encode() if body is not None else None
            request = urllib.request.Request(url + path, data=data, method=method,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=600) as response:
                return json.load(response)

        def run(prompt_len, out_len):
            body = {"prompt": [PROMPT_TOKEN] * prompt_len, "max_tokens": out_len}
            job_id = call("POST", "/v1/completions", body)["atoma"]["job_id"]
            job = call("GET", f"/v1/jobs/{job_id}")
            t = job["timings"]
            return {"generated": job["usage"]["completion_tokens"],
                    "ttft_ms": t["time_to_first_token_ms"], "total_ms": t["total_ms"]}

        run(4, 4)
        runs = {cell: [run(*cell) for _ in range(args.reps)] for cell in cells}
        throughput = {}
        for n in args.concurrency:
            prompt_len, out_len = args.concurrency_cell
            # Different prompts (the token repeated a different number of times), so that the
            # jobs are not the same computation.
            bodies = [{"prompt": [PROMPT_TOKEN] * (prompt_len + i), "max_tokens": out_len}
                      for i in range(n)]
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
                answers = list(pool.map(lambda b: call("POST", "/v1/completions", b), bodies))
            wall = time.perf_counter() - started
            generated = sum(a["usage"]["completion_tokens"] for a in answers)
            throughput[n] = (generated, wall)
        with open(f"/proc/{worker.pid}/status") as status:
            peak_kib = next(int(l.split()[1]) for l in status if l.startswith("VmHWM"))
        return runs, peak_kib / 1024, throughput
    finally:
        worker.terminate()
        worker.wait()


def measure_llama(args, threads, cells):
    """Runs in its own process (`--llama-only`), so that its peak RSS is llama.cpp's alone."""
    out = subprocess.run(
        [sys.executable, __file__, "--llama-only", "--model", args.model, "--threads",
         str(threads), "--cells", args.cells, "--reps", str(args.reps)],
        check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    runs = {tuple(cell): cell_runs for cell, cell_runs in report["runs"]}
    return runs, report["peak_mib"]


def llama_only(args):
    import numpy as np
    from llama_cpp import Llama

    threads = int(args.threads)
    llm = Llama(model_path=args.model, n_threads=threads, n_threads_batch=threads, n_ctx=4096,
                verbose=False)
    eos, vocab = llm.token_eos(), llm.n_vocab()

    def last_logits():
        # llama.cpp computes the logits of the batch's last token only (no `logits_all`).
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(vocab,))

    def run(prompt_len, out_len):
        llm.reset()
        started = time.perf_counter()
        llm.eval([PROMPT_TOKEN] * prompt_len)
        generated, first = 0, None
        while generated < out_len:
            token = int(np.argmax(last_logits()))
            generated += 1
            if first is None:
                first = time.perf_counter()
            if token == eos or generated == out_len:
                break
            llm.eval([token])
        done = time.perf_counter()
        return {"generated": generated, "ttft_ms": (first - started) * 1e3,
                "total_ms": (done - started) * 1e3}

    run(4, 4)
    runs = [[list(cell), [run(*cell) for _ in range(args.reps)]]
            for cell in parse_cells(args.cells)]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"runs": runs, "peak_mib": peak_mib}))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker")
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--cells", default="16x128,128x128,1024x128")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--precision", default="native", choices=["native", "f32", "quantized"])
    parser.add_argument("--concurrency", default="",
                        help="e.g. 1,2,4,8,16: the throughput table, at the last thread count")
    parser.add_argument("--concurrency-cell", default="16x128")
    parser.add_argument("--device", default="cpu", help="the worker's --device, e.g. cuda")
    parser.add_argument("--no-peer", action="store_true",
                        help="measure the worker alone (no llama.cpp on the machine)")
    parser.add_argument("--llama-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.llama_only:
        return llama_only(args)
    args.concurrency = [int(n) for n in args.concurrency.split(",") if n]
    args.concurrency_cell = parse_cells(args.concurrency_cell)[0]

    if args.no_peer:
        peer = "no peer measured"
    else:
        import llama_cpp
        peer = f"llama.cpp via llama-cpp-python {llama_cpp.__version__}"

    cells = parse_cells(args.cells)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "unknown CPU")
    print(f"# {os.path.basename(args.model)} on {cpu} ({os.cpu_count()} CPUs); worker precision "
          f"{args.precision} on device {args.device}; {peer}; best of "
          f"{args.reps}; prompt = token {PROMPT_TOKEN} repeated, greedy, fresh KV cache")
    print()
    print("| threads | prompt tokens | max new | engine | generated | prompt tok/s | decode tok/s "
          "| TTFT ms | peak RSS MiB |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    ratios = []
    thread_counts = [int(t) for t in args.threads.split(",")]
    throughput = {}
    for threads in thread_counts:
        # The engines take turns, one repetition each, so that both see the same machine: this
        # VM's speed drifts by tens of percent over minutes, and the ratios are what to read.
        worker_runs = {cell: [] for cell in cells}
        llama_runs = {cell: [] for cell in cells}
        worker_peak = llama_peak = 0.0
        for rep in range(args.reps):
            last = rep == args.reps - 1
            concurrency = args.concurrency if last and threads == thread_counts[-1] else []
            one = argparse.Namespace(**{**vars(args), "concurrency": concurrency, "reps": 1})
            runs, peak, measured = measure_worker(one, threads, cells)
            throughput = measured or throughput
            worker_peak = max(worker_peak, peak)
            for cell in cells:
                worker_runs[cell] += runs[cell]
            if not args.no_peer:
                runs, peak = measure_llama(one, threads, cells)
                llama_peak = max(llama_peak, peak)
                for cell in cells:
                    llama_runs[cell] += runs[cell]
        worker = {cell: summary(cell[0], best(worker_runs[cell])) for cell in cells}
        engines = [("atoma-worker", worker, worker_peak)]
        llama = {}
        if not args.no_peer:
            llama = {cell: summary(cell[0], best(llama_runs[cell])) for cell in cells}
            engines.append(("llama.cpp", llama, llama_peak))
        for cell in cells:
            for name, rows, peak in engines:
                r = rows[cell]
                print(f"| {threads} | {cell[0]} | {cell[1]} | {name} | {r['generated']} "
                      f"| {r['prompt_tps']:.0f} | {r['decode_tps']:.1f} | {r['ttft_ms']:.0f} "
                      f"| {peak:.0f} |", flush=True)
            if not llama:
                continue
            w, l = worker[cell], llama[cell]
            ratios.append((threads, cell, w["prompt_tps"] / l["prompt_tps"],
                           w["decode_tps"] / l["decode_tps"], w["ttft_ms"] / l["ttft_ms"]))
    if ratios:
        print_ratios(ratios)
    if throughput:
        print_throughput(args, thread_counts[-1], throughput, llama)


def print_ratios(ratios):
    print()
    print("| threads | prompt tokens | prompt tok/s, worker / llama.cpp | decode tok/s, worker / "
          "llama.cpp | TTFT, worker / llama.cpp |")
    print("|---:|---:|---:|---:|---:|")
    for threads, cell, prompt, decode, ttft in ratios:
        print(f"| {threads} | {cell[0]} | {prompt:.2f}x | {decode:.2f}x | {ttft:.2f}x |")


def print_throughput(args, threads, throughput, llama):
    prompt_len, out_len = args.concurrency_cell
    llama_single = llama.get((prompt_len, out_len))
    print()
    print(f"Throughput, {threads} threads, prompts of {prompt_len}+ tokens, "
          f"{out_len} new tokens each, all sent at once:")
    print()
    print("| concurrent requests | generated | wall s | tok/s | vs worker single stream "
          "| vs llama.cpp single stream |")
    print("|---:|---:|---:|---:|---:|---:|")
    single = throughput[min(throughput)]
    single_tps = single[0] / single[1]
    for n, (generated, wall) in sorted(throughput.items()):
        tps = generated / wall
        peer = ""
        if llama_single:
            # llama.cpp's single stream, end to end: its generated tokens over TTFT + decode.
            r = llama_single
            llama_wall = r["ttft_ms"] / 1e3 + (r["generated"] - 1) / r["decode_tps"]
            peer = f"{tps / (r['generated'] / llama_wall):.2f}x"
        print(f"| {n} | {generated} | {wall:.1f} | {tps:.1f} | {tps / single_tps:.2f}x "
              f"| {peer} |")


if __name__ == "__main__":
    main()
