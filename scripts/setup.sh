#!/usr/bin/env bash
# Installs every Debian package sbert needs and builds it in Release (build/).
# Usage: bash scripts/setup.sh            (as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config ccache git python3
  libtorch-dev libopenblas0-pthread
  libdnnl-dev  # oneDNN headers: the int8 matmuls of --quantize int8 (libtorch already links libdnnl)
  libsentencepiece-dev libutf8proc-dev
  libcli11-dev nlohmann-json3-dev libeigen3-dev
  libgtest-dev libgmock-dev
  libfaiss-dev libsqlite3-dev libcsv-dev libcurl4-openssl-dev libssl-dev
  libcpp-httplib-dev  # client mode (--server) and the serve tests' HTTP client
  libboost-dev  # sbert serve: Boost.Beast's HTTP/1.1 request parser (header-only)
  libzip-dev  # torch.save zip checkpoints (pytorch_model.bin), read by the CPU runtime without libtorch
  libpcre2-dev  # the regexes of tokenizer.json (Split, Replace, ByteLevel pre-tokenizers): PCRE2 32-bit
  clang libclang-rt-14-dev  # scripts/sanitize.sh and scripts/fuzz.sh (ASan, UBSan, libFuzzer)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# libtorch must use the pthread OpenBLAS (the reference BLAS is ~20x slower).
if command -v update-alternatives >/dev/null; then
  alt=$(update-alternatives --list libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep openblas-pthread | head -1 || true)
  if [ -n "$alt" ]; then
    ${SUDO:-} update-alternatives --set libblas.so.3-x86_64-linux-gnu "$alt" >/dev/null 2>&1 || true
  fi
fi

JOBS=${JOBS:-$(nproc)}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
# Only what the main job needs: the binary and its runtime libraries (libsbert_nn.so,
# libsbert_spm.so). scripts/test.sh builds the tests, benchmarks and the model generator.
cmake --build build -j "$JOBS" --target sbert_cli sbert_nn_module sbert_spm
echo "setup: built build/sbert" >&2
