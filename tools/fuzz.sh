#!/usr/bin/env bash
# Builds and runs the libFuzzer harnesses of tests/fuzz with clang and the address and
# undefined-behaviour sanitizers. Bazel's autoconfigured toolchain is gcc, which has no
# libFuzzer, so the harnesses are compiled here directly against the Debian libraries.
#
# Usage:
#   tools/fuzz.sh build [name...]          build every harness, or the named ones
#   tools/fuzz.sh run <name> <seconds> [libFuzzer flags...]
#   tools/fuzz.sh all <seconds>            run every harness in turn for <seconds> each
#   tools/fuzz.sh seeds                    rewrite the model_file and runtime_model seeds with the encoders
#   tools/fuzz.sh list                     print the harness names
#
# Needs clang-14 and libclang-rt-14-dev on top of tools/setup.sh's packages. Outputs go to
# $FUZZ_OUT (default ~/.cache/model_compression/fuzz): objects, binaries, the corpus each run
# grows (seeded from tests/fuzz/corpus/<name>, which is only read) and crash artifacts.
set -euo pipefail
shopt -s inherit_errexit  # a failed compile inside $(...) stops the script

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${FUZZ_OUT:-$HOME/.cache/model_compression/fuzz}
CXX=${CXX:-clang++-14}

# Sources of each harness besides tests/fuzz/<name>_fuzzer.cc: the libraries it reads with.
declare -A SOURCES=(
  [model_file]="serialization/model_file.cc serialization/container.cc
    serialization/deterministic_bytes.cc serialization/atomic_file.cc
    serialization/tensor_codec.cc model_io/decoder.cc quant/uniform_codec.cc
    quant/uniform.cc quant/bitpack.cc quant/learned_points.cc vq/codebook_codec.cc
    vq/layout.cc nn_models/state_dict.cc"
  [idx]="data/idx_reader.cc data/file_contents.cc"
  [cifar]="data/cifar_reader.cc data/file_contents.cc data/dataset_info.cc"
  [config]="serialization/experiment_config.cc serialization/atomic_file.cc"
  [state_dict]="serialization/pytorch_state_dict.cc"
  [runtime_model]="runtime/runtime_model.cc runtime/model_graph.cc runtime/graph.cc
    runtime/layers.cc runtime/weight_loading.cc runtime/weight_matrix.cc runtime/row_codes.cc
    runtime/blocked_levels.cc runtime/uniform_kernels.cc runtime/uniform_kernels_avx2.cc
    runtime/uniform_kernels_avx512.cc runtime/codebook_matrix.cc runtime/codebook_kernels.cc
    runtime/cpu_features.cc model_io/model_loading.cc data/dataset_info.cc
    nn_models/cifar_resnet.cc nn_models/classifier.cc nn_models/conv_forward_net.cc
    nn_models/layers.cc nn_models/lenet.cc nn_models/mobilenet_v2.cc nn_models/model_config.cc
    nn_models/model_options.cc nn_models/registry.cc nn_models/resnet.cc
    nn_models/weight_init.cc nn_models/wide_resnet.cc
    serialization/pytorch_state_dict.cc"
)
# The runtime reads model files with the model_file harness's libraries.
SOURCES[runtime_model]+=" ${SOURCES[model_file]}"
# Protos each harness needs (their generated code is compiled with it).
declare -A PROTOS=(
  [model_file]="serialization/compressed_model.proto serialization/experiment_config.proto"
  [config]="serialization/experiment_config.proto"
)
PROTOS[runtime_model]=${PROTOS[model_file]}
# Harnesses that call LibTorch.
TORCH_HARNESSES=" model_file state_dict runtime_model "
# Largest input libFuzzer makes: a few times the largest seed.
declare -A MAX_LEN=(
  [model_file]=4096 [idx]=4096 [cifar]=8192 [config]=4096 [state_dict]=8192
  [runtime_model]=65536
)
NAMES=(model_file idx cifar config state_dict runtime_model)

# Seeds written by programs built from a harness's sources: harness -> program.
declare -A SEEDS_PROGRAMS=(
  [model_file]=tests/fuzz/make_model_file_seeds.cc
  [runtime_model]=tests/fuzz/make_runtime_model_seeds.cc
)

SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=all"
CXXFLAGS=(-std=c++17 -O1 -g -fno-omit-frame-pointer $SANITIZE -D_GLIBCXX_USE_CXX11_ABI=1
  -I"$ROOT" -I"$OUT/gen" -isystem /usr/include/torch/csrc/api/include)
LIBS=($(pkg-config --libs absl_status absl_statusor absl_strings absl_str_format protobuf zlib))
TORCH_LIBS=(-Wl,--no-as-needed -ltorch -ltorch_cpu -lc10 -Wl,--as-needed -lpthread)

die() { echo "fuzz.sh: $*" >&2; exit 1; }

check_toolchain() {
  command -v "$CXX" >/dev/null || die "$CXX not found: apt-get install clang-14 libclang-rt-14-dev"
  local probe="$OUT/probe"
  [[ -x "$probe/probe" ]] && return
  mkdir -p "$probe"
  echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' \
    >"$probe/probe.cc"
  "$CXX" -fsanitize=fuzzer,address,undefined "$probe/probe.cc" -o "$probe/probe" 2>/dev/null ||
    die "$CXX cannot link -fsanitize=fuzzer: apt-get install libclang-rt-14-dev"
}

known() { [[ -n "${SOURCES[$1]+x}" ]] || die "unknown harness '$1' (known: ${NAMES[*]})"; }

# newer_than FILE INPUT...: FILE exists and is newer than every INPUT.
newer_than() {
  local file=$1 input; shift
  [[ -f "$file" ]] || return 1
  for input in "$@"; do [[ "$input" -nt "$file" ]] && return 1; done
  return 0
}

# up_to_date OBJECT: the object exists and is newer than every file its dependency list names.
up_to_date() {
  local obj=$1
  [[ -f "$obj" && -f "$obj.d" ]] || return 1
  newer_than "$obj" $(sed -e 's/^[^:]*://' -e 's/\\$//' "$obj.d")
}

# compile SOURCE [FLAGS...]: prints the object of SOURCE (relative to the root, or absolute).
compile() {
  local src=$1; shift
  local path=$src
  [[ "$src" = /* ]] || path="$ROOT/$src"
  local obj="$OUT/obj/${src#/}.o"
  if ! up_to_date "$obj"; then
    mkdir -p "$(dirname "$obj")"
    echo "compile $src" >&2
    "$CXX" "${CXXFLAGS[@]}" "$@" -MMD -MF "$obj.d" -c "$path" -o "$obj"
  fi
  echo "$obj"
}

# protos NAME: generates the C++ of NAME's protos and prints their objects.
protos() {
  local proto generated
  for proto in ${PROTOS[$1]:-}; do
    generated="$OUT/gen/${proto%.proto}.pb.cc"
    if [[ ! -f "$generated" || "$ROOT/$proto" -nt "$generated" ]]; then
      mkdir -p "$OUT/gen"
      (cd "$ROOT" && protoc --cpp_out="$OUT/gen" "$proto")
    fi
  done
  for proto in ${PROTOS[$1]:-}; do
    compile "$OUT/gen/${proto%.proto}.pb.cc" -fsanitize=fuzzer-no-link
  done
}

# objects NAME: the library objects of NAME.
objects() {
  local src
  protos "$1"
  for src in ${SOURCES[$1]}; do compile "$src" -fsanitize=fuzzer-no-link; done
}

build() {
  local name=$1 objs libs=("${LIBS[@]}")
  known "$name"
  objs=($(objects "$name"))
  objs+=($(compile "tests/fuzz/${name}_fuzzer.cc" -fsanitize=fuzzer-no-link))
  [[ "$TORCH_HARNESSES" == *" $name "* ]] && libs+=("${TORCH_LIBS[@]}")
  newer_than "$OUT/bin/${name}_fuzzer" "${objs[@]}" && return
  mkdir -p "$OUT/bin"
  echo "link ${name}_fuzzer" >&2
  "$CXX" -fsanitize=fuzzer $SANITIZE "${objs[@]}" "${libs[@]}" -o "$OUT/bin/${name}_fuzzer"
}

run() {
  local name=$1 seconds=$2; shift 2
  known "$name"
  build "$name"
  mkdir -p "$OUT/corpus/$name" "$OUT/artifacts/$name"
  echo "run ${name}_fuzzer for $seconds s"
  "$OUT/bin/${name}_fuzzer" -max_total_time="$seconds" -rss_limit_mb=4096 \
    -max_len="${MAX_LEN[$name]}" -print_final_stats=1 \
    -artifact_prefix="$OUT/artifacts/$name/" "$@" \
    "$OUT/corpus/$name" "$ROOT/tests/fuzz/corpus/$name"
}

seeds() {
  local name objs program
  for name in "${!SEEDS_PROGRAMS[@]}"; do
    program=$(basename "${SEEDS_PROGRAMS[$name]}" .cc)
    objs=($(objects "$name") $(compile "${SEEDS_PROGRAMS[$name]}"))
    mkdir -p "$OUT/bin" "$ROOT/tests/fuzz/corpus/$name"
    "$CXX" $SANITIZE "${objs[@]}" "${LIBS[@]}" "${TORCH_LIBS[@]}" -o "$OUT/bin/$program"
    "$OUT/bin/$program" "$ROOT/tests/fuzz/corpus/$name"
  done
}

[[ $# -ge 1 ]] || die "usage: tools/fuzz.sh build [name...] | run <name> <seconds> [flags...] | all <seconds> | seeds | list"
command=$1; shift
case "$command" in
  list) printf '%s\n' "${NAMES[@]}" ;;
  build)
    check_toolchain
    for name in "${@:-${NAMES[@]}}"; do build "$name"; done
    ;;
  run)
    [[ $# -ge 2 ]] || die "usage: tools/fuzz.sh run <name> <seconds> [libFuzzer flags...]"
    check_toolchain
    run "$@"
    ;;
  all)
    [[ $# -eq 1 ]] || die "usage: tools/fuzz.sh all <seconds>"
    check_toolchain
    for name in "${NAMES[@]}"; do run "$name" "$1"; done
    ;;
  seeds)
    check_toolchain
    seeds
    ;;
  *) die "unknown command '$command'" ;;
esac
