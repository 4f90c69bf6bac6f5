#!/usr/bin/env bash
# Chain capacity under load (clients/load.mjs): many registered nodes commit, each with its own
# worker key, for many users' requests whose output was computed once for real; prints how many
# commitments each block takes, its weight and length, and what stays in the pool. The numbers are
# kept in docs/benchmarks.md. Not a test: it asserts nothing.
#
#   scripts/bench-load.sh [--nodes 64] [--users 32] [--requests 128] [--quorum 8] [--max-tokens 16]
#                         [--burst 500]      (about 3 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
require_release_build_and_clients
export ATOMA_MODEL_GGUF="$(scripts/fetch-model.sh)"
node clients/load.mjs "$@"
