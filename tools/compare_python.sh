#!/usr/bin/env bash
# Float training speed of an experiment binary against plain PyTorch on the same LibTorch:
# tools/plain_pytorch_training.py (Debian's python3-torch) and `BINARY --method=float` train
# ResNet-20 on Fashion-MNIST with the same recipe for the same number of steps, alternated
# ROUNDS times at each thread count because the machine is shared and noisy. Prints every
# run's training images/s, then per thread count the medians and their ratio (ours / Python).
#
#   bazel build //experiments:cifar_diffq
#   tools/compare_python.sh bazel-bin/experiments/cifar_diffq [STEPS [ROUNDS [THREADS...]]]
#
# Defaults: 200 steps, 3 rounds, 1 and 2 threads. Extra flags for the binary go in the
# environment variable FLAGS (e.g. FLAGS=--memory_format=contiguous). Outputs and logs go to
# a new temporary directory, named at the end.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  sed -n '2,13p' "$0" >&2
  exit 2
fi
binary=$1 steps=${2:-200} rounds=${3:-3}
shift $(($# < 3 ? $# : 3))
threads=("$@")
[[ ${#threads[@]} -gt 0 ]] || threads=(1 2)
[[ -x "$binary" ]] || { echo "compare_python.sh: $binary is not an executable" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null ||
  { echo "compare_python.sh: needs Debian's python3-torch (apt-get install python3-torch)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/compare_python.XXXXXX)

python_rate() {  # threads
  /usr/bin/python3 "$here/plain_pytorch_training.py" --threads="$1" --steps="$steps" >"$work/python.log" 2>&1 ||
    { echo "plain PyTorch failed: $(tail -1 "$work/python.log")" >&2; exit 1; }
  grep -oE 'images_per_second=[0-9.]+' "$work/python.log" | cut -d= -f2
}

binary_rate() {  # threads, round
  local out="$work/ours_t$1_r$2"
  # shellcheck disable=SC2086  # FLAGS holds several flags
  "$binary" --dataset=fashion_mnist --model=resnet20 --method=float --epochs=1 --seed=1 \
      --max_train_batches="$steps" --threads="$1" ${FLAGS:-} --output_dir="$out" >"$out.log" 2>&1 ||
    { echo "$binary failed: $(tail -1 "$out.log")" >&2; exit 1; }
  python3 -c 'import json, sys; print(round(json.loads(open(sys.argv[1]).readline())["images_per_second"], 1))' \
      "$out/metrics.jsonl"
}

for t in "${threads[@]}"; do
  py=() ours=()
  for ((r = 1; r <= rounds; r++)); do
    py+=("$(python_rate "$t")")
    ours+=("$(binary_rate "$t" "$r")")
    echo "threads $t round $r: python ${py[-1]} img/s, ours ${ours[-1]} img/s"
  done
  python3 - "$t" "${py[*]}" "${ours[*]}" <<'PY'
import statistics, sys
threads, py, ours = sys.argv[1], [float(v) for v in sys.argv[2].split()], [float(v) for v in sys.argv[3].split()]
p, o = statistics.median(py), statistics.median(ours)
print(f"threads {threads}: median python {p:.1f} img/s, ours {o:.1f} img/s, ratio {o / p:.2f}x")
PY
done
echo "outputs in $work"
