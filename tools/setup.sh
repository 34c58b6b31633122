#!/usr/bin/env bash
# Installs every Debian package that building, testing and running model_compression needs,
# then writes the KJV language-modeling corpus from two of them (tools/make_kjv_corpus.sh).
# Idempotent: does nothing when all of them are already there.
# Usage: tools/setup.sh   (as root, or as a user who can sudo)
set -euo pipefail

PACKAGES=(
  bazel-bootstrap        # Bazel 4.2.3
  bazel-rules-java       # @rules_java, which @bazel_tools refers to
  g++
  libtorch-dev           # LibTorch 1.13.1, CPU
  libabsl-dev            # Abseil 20220623
  libprotobuf-dev
  protobuf-compiler      # protobuf 3.21
  zlib1g-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  libfaiss-dev           # Faiss 1.7.3: benchmarks only (//benchmarks:kmeans_benchmark compares k-means)
  libgloo-dev            # Gloo collectives: distributed training over c10d (ProcessGroupGloo)
  libopenblas0-pthread   # fast BLAS for LibTorch (Debian's default libblas.so.3 is the reference one)
  libtcmalloc-minimal4   # malloc that keeps freed blocks mapped: faster training steps (//third_party:tcmalloc)
  dataset-fashion-mnist  # /usr/share/datasets/fashion-mnist
  bible-kjv              # the King James Bible: the language-modeling corpus (tools/make_kjv_corpus.sh)
  bible-kjv-text
  python3                # acceptance scripts read summary.json with the standard library
)

KJV_CORPUS=/usr/share/datasets/kjv  # --dataset=kjv reads it (data/dataset_info.cc)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$pkg")
done
corpus_missing=false
[ -f "$KJV_CORPUS/ptb.test.txt" ] || corpus_missing=true

if [ ${#missing[@]} -eq 0 ] && ! $corpus_missing; then
  echo "setup: all ${#PACKAGES[@]} packages are installed, and the KJV corpus is in $KJV_CORPUS"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup: missing: ${missing[*]}$($corpus_missing && echo " the KJV corpus in $KJV_CORPUS")" >&2
  echo "setup: installing them needs root, and sudo is not available; run this script as root" >&2
  exit 1
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
if $corpus_missing; then
  echo "setup: writing the KJV corpus to $KJV_CORPUS"
  "${SUDO[@]}" bash "$(dirname "$0")/make_kjv_corpus.sh" "$KJV_CORPUS"
fi
echo "setup: done"
