#!/usr/bin/env python3
"""Print the commitments of a fixed request set from one running worker (evidence for
docs/determinism.md). Run it against workers started with different thread counts, precisions,
builds or machines and diff the output.

Usage: python3 scripts/determinism-check.py http://127.0.0.1:8080
"""
import json, sys, time, urllib.request

base = sys.argv[1].rstrip("/")
REQUESTS = [
    {"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 16},
    {"prompt": "Once upon a time", "max_tokens": 32},
    {"messages": [{"role": "user", "content": "Write a story about a cat."}], "max_tokens": 32,
     "temperature_milli": 900, "top_k": 50, "top_p_milli": 950, "seed": 42},
    {"prompt": "My favourite food is", "max_tokens": 32, "temperature_milli": 1200, "seed": 3},
]

def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)

for body in REQUESTS:
    job_id = call("POST", "/v1/jobs", body)["id"]
    while (job := call("GET", f"/v1/jobs/{job_id}"))["status"] in ("queued", "running"):
        time.sleep(0.05)
    c = job["commitments"]
    print(f'{c["root"][:16]} trace={c["trace_root"][:16]} n={job["usage"]["completion_tokens"]:>2} '
          f'{job["output"]["text"][:40]!r}')
