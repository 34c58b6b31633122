#!/usr/bin/env bash
# Runs one short model file of each method through //runtime:run_model and checks that the
# runtime, computing from the stored encodings, gives the test accuracy the training run
# recorded in its summary.json: DiffQ, quantized distillation (4 bits), MetaQuant (1 bit,
# DoReFa forward, MultiFC meta network) and product quantization (ResNet-18, blocks 9/4/4,
# k = 256, the README's layout: a file of about 1.4 MB). Each run trains for a few batches
# only: the check is of the runtime, not of the methods' accuracy.
#
#   tools/run_model_methods.sh [OUTPUT_DIR]
#
# Prints per file the run's accuracy, run_model's accuracy in exact and int8 modes, the
# weights' resident bytes against the file's, and the batch-1 latencies; exits non-zero when
# an exact-mode accuracy differs from the summary's by more than 1e-4. Run from the checkout.
set -euo pipefail

out=${1:-$(mktemp -d /tmp/run_model_methods.XXXXXX)}
mkdir -p "$out"
bazel build //experiments:cifar_baseline //experiments:cifar_diffq //experiments:cifar_distill \
  //experiments:cifar_metaquant //experiments:cifar_vq //runtime:run_model
bin=bazel-bin/experiments
short=(--dataset=fashion_mnist --epochs=1 --seed=1)

train() {  # name binary flags...
  local name=$1 binary=$2
  shift 2
  echo "training $name" >&2
  "$bin/$binary" "${short[@]}" "$@" --output_dir="$out/$name" >"$out/$name.log" 2>&1 ||
    { echo "run_model_methods.sh: $binary failed, see $out/$name.log" >&2; exit 1; }
}

summary_value() {  # run key
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    "$out/$1/summary.json" "$2"
}

train float_resnet20 cifar_baseline --model=resnet20 --max_train_batches=100
teacher20=$(summary_value float_resnet20 model_file)
train diffq cifar_diffq --model=resnet20 --method=diffq --min_size=0 --max_train_batches=60
train quantized_distillation cifar_distill --method=quantized_distillation --teacher="$teacher20" \
  --student=resnet20 --bits=4 --max_train_batches=60
train metaquant cifar_metaquant --model=resnet20 --bits=1 --optimizer=sgd --forward=dorefa \
  --meta=multifc --start_from="$teacher20" --max_train_batches=60
train float_resnet18 cifar_baseline --model=resnet18 --max_train_batches=20
train product_quantization cifar_vq --model=resnet18 --teacher="$(summary_value float_resnet18 model_file)" \
  --block_size_cv=9 --block_size_pw=4 --block_size_fc=4 --n_centroids_cv=256 --n_centroids_pw=256 \
  --n_centroids_fc=256 --n_iter=5 --finetune_steps=2 --global_finetune_steps=10

status=0
for run in diffq quantized_distillation metaquant product_quantization; do
  model=$(summary_value "$run" model_file)
  for mode in float int8; do
    bazel-bin/runtime/run_model "$model" --dataset=fashion_mnist --batch_size=1 --threads=1 \
      --activations="$mode" --summary_json="$out/$run.runtime.$mode.json" >"$out/$run.runtime.$mode.log" 2>&1 ||
      { echo "run_model failed on $model ($mode): $(tail -1 "$out/$run.runtime.$mode.log")" >&2; exit 1; }
  done
  python3 - "$run" "$(summary_value "$run" test_accuracy)" "$model" \
    "$out/$run.runtime.float.json" "$out/$run.runtime.int8.json" <<'PY' || status=1
import json, os, sys
run, recorded, model = sys.argv[1], float(sys.argv[2]), sys.argv[3]
exact, fast = (json.load(open(path)) for path in sys.argv[4:6])
ok = abs(exact["test_accuracy"] - recorded) <= 1e-4
print(f"{run}: summary {recorded:.4f}, run_model exact {exact['test_accuracy']:.4f}, "
      f"int8 {fast['test_accuracy']:.4f}; weights {exact['weight_bytes']} B resident for a "
      f"{os.path.getsize(model)} B file ({exact['float_weight_bytes']} B as float); batch-1 p50 "
      f"{exact['latency_ms_p50']:.2f} ms exact, {fast['latency_ms_p50']:.2f} ms int8, float path "
      f"{exact['float_path_latency_ms_p50']:.2f} ms" + ("" if ok else "  <- accuracy differs"))
sys.exit(0 if ok else 1)
PY
done
echo "outputs in $out"
exit $status
