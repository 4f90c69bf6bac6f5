#!/usr/bin/env bash
# End-to-end throughput with real workers: many users ask at once on a local three-node network,
# each node with its own inference worker (clients/bench-throughput.mjs); prints the requests
# settled per block beside what the workers could serve. The numbers are kept in
# docs/benchmarks.md. Not a test: it asserts nothing.
#
#   scripts/bench-throughput.sh [--requests 24] [--mode single|sampling:N] [--tokens 16]
#                               [--slot-ms 3000]      (about 3 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
prepare_network_bench
node clients/bench-throughput.mjs "$@"
