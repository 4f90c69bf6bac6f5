#!/usr/bin/env python3
"""Print the commitments of a fixed request set from one running worker (evidence for
docs/determinism.md). Run it against workers started with different thread counts, precisions,
builds or machines and diff the output.

With `--concurrent`, the four requests are sent at once, among eight other requests of different
lengths (greedy and sampled), so that they share the worker's batches with other work; the lines
printed are still the four requests', in the same order, so they diff against a sequential run.

Usage: python3 scripts/determinism-check.py [--concurrent] http://127.0.0.1:8080
"""
import concurrent.futures, json, sys, time, urllib.request

args = [a for a in sys.argv[1:] if not a.startswith("--")]
concurrent_mode = "--concurrent" in sys.argv[1:]
base = args[0].rstrip("/")
REQUESTS = [
    {"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 16},
    {"prompt": "Once upon a time", "max_tokens": 32},
    {"messages": [{"role": "user", "content": "Write a story about a cat."}], "max_tokens": 32,
     "temperature_milli": 900, "top_k": 50, "top_p_milli": 950, "seed": 42},
    {"prompt": "My favourite food is", "max_tokens": 32, "temperature_milli": 1200, "seed": 3},
]
OTHERS = [{"prompt": "The weather today " * (1 + 5 * i), "max_tokens": 8 + 6 * i,
           **({"temperature_milli": 700, "seed": i} if i % 2 else {})} for i in range(8)]


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.load(r)


def run(body):
    job_id = call("POST", "/v1/jobs", body)["id"]
    while (job := call("GET", f"/v1/jobs/{job_id}"))["status"] in ("queued", "running"):
        time.sleep(0.05)
    return job


if concurrent_mode:
    bodies = OTHERS[:4] + REQUESTS + OTHERS[4:]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        jobs = list(pool.map(run, bodies))
    jobs = jobs[4:4 + len(REQUESTS)]
else:
    jobs = [run(body) for body in REQUESTS]

for job in jobs:
    if "commitments" not in job:
        print(f'FAILED {job.get("status")} {job.get("error")}')
        continue
    c = job["commitments"]
    print(f'{c["root"][:16]} trace={c["trace_root"][:16]} n={job["usage"]["completion_tokens"]:>2} '
          f'{job["output"]["text"][:40]!r}')
