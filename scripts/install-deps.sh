#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build the node:
# - protoc (litep2p's build script needs it), from Debian's protobuf-compiler;
# - the Rust toolchain named in rust-toolchain.toml, with the wasm32v1-none target and rust-src
#   (rustup installs them on first use; this just makes it happen up front, visibly).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v protoc >/dev/null 2>&1; then
	echo "==> installing protobuf-compiler (protoc)"
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
	$SUDO apt-get install -y -q protobuf-compiler >/dev/null 2>&1 || {
		$SUDO apt-get update -q >/dev/null
		$SUDO apt-get install -y -q protobuf-compiler >/dev/null
	}
fi

if ! command -v rustup >/dev/null 2>&1; then
	echo "rustup is required: https://rustup.rs" >&2
	exit 1
fi
# Reads rust-toolchain.toml and installs the toolchain, its components and targets if missing.
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
rustup component list --installed | grep -q rust-src || rustup show >/dev/null
