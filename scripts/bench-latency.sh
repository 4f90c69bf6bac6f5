#!/usr/bin/env bash
# Latency from submission to first streamed token, complete answer, settlement and finality, for
# Single, Sampling (n = 2, 3) and Cross-Validation at 16 and 128 output tokens, beside the worker's
# native time for the same prompt: a local three-node network (clients/bench-latency.mjs). Prints a
# markdown table; the numbers are kept in docs/benchmarks.md. Not a test: it asserts nothing.
#
#   scripts/bench-latency.sh [--runs N] [--slot-ms MS] [--tokens 16,128]
#                            (default 3 runs, 3000 ms slots; about 3 minutes a run on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
prepare_network_bench
node clients/bench-latency.mjs "$@"
