#!/usr/bin/env bash
# Trains one experiment as a single process and as two data-parallel ranks on 127.0.0.1, with
# the same flags and global batch, and prints each run's test accuracy, training images/s and
# wall time. Used for the data-parallel figures of the README.
#
#   bazel build //experiments:cifar_diffq
#   tools/compare_data_parallel.sh /tmp/dp bazel-bin/experiments/cifar_diffq \
#       --dataset=fashion_mnist --model=resnet20 --method=diffq --seed=1 --epochs=2
#
# The single process runs with --threads=2 and each rank with --threads=1 (unless the flags
# set --threads), so that both use the two cores of a small machine. Outputs go to
# <dir>/single and <dir>/ranks/r0, r1; logs next to them.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
dir=$1 binary=$2
shift 2
[[ -x "$binary" ]] || { echo "compare_data_parallel.sh: $binary is not an executable" >&2; exit 1; }
[[ -e "$dir" ]] && { echo "compare_data_parallel.sh: $dir exists; give a new directory" >&2; exit 1; }
mkdir -p "$dir/ranks"

seconds_since() { python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }

report() {  # name, summary.json, metrics.jsonl, wall seconds
  python3 - "$@" <<'PY'
import json, sys
name, summary, metrics, wall = sys.argv[1:]
accuracy = json.load(open(summary))["test_accuracy"]
speeds = [json.loads(line)["images_per_second"] for line in open(metrics) if line.strip()]
print(f"{name}: test accuracy {accuracy:.4f}, training images/s per epoch "
      f"{' '.join(f'{s:.1f}' for s in speeds)}, {wall} s wall")
PY
}

start=$(date +%s.%N)
"$binary" --threads=2 "$@" --output_dir="$dir/single" >"$dir/single.log" 2>&1 ||
  { echo "single process failed: $(tail -1 "$dir/single.log")" >&2; exit 1; }
report "one process" "$dir/single/summary.json" "$dir/single/metrics.jsonl" "$(seconds_since "$start")"

port=$((29000 + RANDOM % 1000))
ranks=(--world_size=2 --master_addr=127.0.0.1 --master_port=$port)
start=$(date +%s.%N)
"$binary" --threads=1 "$@" "${ranks[@]}" --rank=0 --output_dir="$dir/ranks/r0" >"$dir/r0.log" 2>&1 &
rank0=$!
"$binary" --threads=1 "$@" "${ranks[@]}" --rank=1 --output_dir="$dir/ranks/r1" >"$dir/r1.log" 2>&1 &
rank1=$!
status=0
wait $rank0 || status=1
wait $rank1 || status=1
[[ $status -eq 0 ]] || { echo "a rank failed: $(tail -1 "$dir/r0.log") / $(tail -1 "$dir/r1.log")" >&2; exit 1; }
report "two ranks" "$dir/ranks/r0/summary.json" "$dir/ranks/r0/metrics.jsonl" "$(seconds_since "$start")"
