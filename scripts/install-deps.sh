#!/usr/bin/env bash
# Installs the Debian packages llmq builds with, only those missing. Safe to run repeatedly.
set -euo pipefail
# native: what the CLI and its tests need (make native, make demo, make unit-test).
# all (default): also Emscripten, wabt and Chromium for the wasm build and the browser tests, and
# QEMU (user mode) to run the CLI on an emulated CPU without AVX.
# fuzz: native plus Clang and its libFuzzer/sanitizer runtimes (make fuzz, make fuzz-ci).
profile=${1:-all}
packages=(cmake ninja-build g++ libgtest-dev libgmock-dev libxsimd-dev nlohmann-json3-dev)
# qemu-user: the tests run the CLI on an emulated CPU without AVX (tests/cli/simd_levels_cli_test.cpp).
if [ "$profile" = all ]; then packages+=(emscripten wabt chromium qemu-user); fi
if [ "$profile" = fuzz ]; then packages+=(clang libclang-rt-dev); fi
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "llmq: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
