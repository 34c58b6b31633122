// The runtime against LibTorch's float32 forward of the same shapes, timed in alternation in
// one run (side_by_side.h): ratio = runtime / float, below 1 when the runtime is faster.
// Linear 8192x8192 at batch 1 and 64 for uniform 8, 4, 3, 2 and 1 bits, DiffQ's widths (1 to 8
// bits per group of 16, one range) and codebooks of 256 centroids of 4 and 8 values;
// ResNet-20 (28x28) at batch 1 and 128; ResNet-18 and MobileNetV2 (224x224) at batch 1 with
// 4-bit weights; 1 and 2 threads. Counter bytes_per_weight: the
// runtime's resident bytes per weight (float32: 4). BM_LinearDynamic times LibTorch's own
// int8 Linear (quantized::linear_dynamic) on the same shapes, against the same float forward;
// BM_LinearDecodedTiles the decode-then-sgemm alternative against the runtime's kernels.
// BM_LstmLmStep: one token of generation (batch 1) with lstm_lm_small or lstm_lm_medium over
// 10,000 words, 4-bit weights in the runtime against LibTorch's float model stepping with its
// carried state.
//
//   bazel run -c opt //benchmarks:runtime_benchmark -- --benchmark_filter=Linear
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <benchmark/benchmark.h>
#include <torch/utils.h>

#include <memory>
#include <string>
#include <vector>

#include "benchmarks/side_by_side.h"
#include "common/cpu_threads.h"
#include "nn_models/classifier.h"
#include "nn_models/registry.h"
#include "nn_models/language_model.h"
#include "runtime/graph.h"
#include "runtime/lstm_language_model.h"
#include "runtime/model_graph.h"
#include "runtime/testutil.h"
#include "runtime/weight_loading.h"
#include "runtime/weight_matrix.h"

namespace mc::benchmarks {
namespace {

using runtime::Activations;

constexpr int64_t kSide = 8192;

// Encodings of the Linear benchmarks: uniform bits (1..8), DiffQ's widths (0), or 256
// centroids of -block values.
const std::vector<int64_t> kLinearEncodings = {8, 4, 3, 2, 1, 0, -4, -8};

std::string LinearEncodingName(int64_t encoding) {
  if (encoding == 0) return "diffq_widths";
  return encoding > 0 ? std::to_string(encoding) + "bit" : "codebook256x" + std::to_string(-encoding);
}

serialization::CompressedTensor LinearWeight(const at::Tensor& weight, int64_t encoding) {
  if (encoding == 0) {
    return runtime::testing::EncodeWeight("w", weight, runtime::testing::WeightEncoding::kDiffqWidths);
  }
  return encoding > 0 ? runtime::testing::EncodeUniformWeight("w", weight, encoding)
                      : runtime::testing::EncodeCodebookWeight("w", weight, -encoding, 256);
}

void BM_Linear(benchmark::State& state) {
  const int64_t encoding = state.range(0);
  const int64_t batch = state.range(1);
  ConfigureCpuThreads(static_cast<int>(state.range(2)));
  torch::manual_seed(0);
  const at::Tensor weight = at::randn({kSide, kSide}) / 90.0;
  auto loaded = runtime::LoadWeightMatrix(LinearWeight(weight, encoding));
  if (!loaded.ok()) return state.SkipWithError(std::string(loaded.status().message()).c_str());
  const runtime::WeightMatrix matrix = *std::move(loaded);
  const at::Tensor x = at::randn({batch, kSide});
  at::Tensor y = at::empty({batch, kSide});
  torch::NoGradGuard no_grad;
  SideBySide(state, {"float", [&] { benchmark::DoNotOptimize(at::linear(x, weight)); }},
             {"runtime", [&] {
                matrix.Multiply(x.data_ptr<float>(), batch, y.data_ptr<float>(), Activations::kInt8);
                benchmark::ClobberMemory();
              }});
  state.counters["bytes_per_weight"] =
      static_cast<double>(matrix.ResidentBytes()) / static_cast<double>(weight.numel());
  state.SetLabel(LinearEncodingName(encoding));
}

void LinearArguments(benchmark::internal::Benchmark* benchmark) {
  for (const int64_t threads : {1, 2}) {
    for (const int64_t batch : {1, 64}) {
      for (const int64_t encoding : kLinearEncodings) benchmark->Args({encoding, batch, threads});
    }
  }
  benchmark->ArgNames({"encoding", "batch", "threads"});
}

// The decode-then-multiply alternative for Linear: tiles of about 1 MB of rows decoded to
// float32 and multiplied with ATen's matrix product (BLAS sgemm), against the runtime's own
// kernel (label: the encoding).
void BM_LinearDecodedTiles(benchmark::State& state) {
  const int64_t encoding = state.range(0);
  const int64_t batch = state.range(1);
  ConfigureCpuThreads(1);
  torch::manual_seed(0);
  const at::Tensor weight = at::randn({kSide, kSide}) / 90.0;
  auto loaded = runtime::LoadWeightMatrix(LinearWeight(weight, encoding));
  if (!loaded.ok()) return state.SkipWithError(std::string(loaded.status().message()).c_str());
  const runtime::WeightMatrix matrix = *std::move(loaded);
  const at::Tensor x = at::randn({batch, kSide});
  at::Tensor y = at::empty({batch, kSide});
  constexpr int64_t kTileRows = (int64_t{1} << 18) / kSide;
  at::Tensor tile = at::empty({kTileRows, kSide});
  torch::NoGradGuard no_grad;
  SideBySide(state,
             {"runtime", [&] {
                matrix.Multiply(x.data_ptr<float>(), batch, y.data_ptr<float>(), Activations::kInt8);
                benchmark::ClobberMemory();
              }},
             {"decoded_tiles", [&] {
                for (int64_t begin = 0; begin < kSide; begin += kTileRows) {
                  matrix.DecodeRows(begin, begin + kTileRows, tile.data_ptr<float>());
                  y.narrow(1, begin, kTileRows).copy_(at::mm(x, tile.t()));
                }
                benchmark::ClobberMemory();
              }});
  state.SetLabel(LinearEncodingName(encoding));
}

// LibTorch's own int8 alternative for Linear: quantized::linear_dynamic (int8 weights, one
// scale per tensor; activations quantized on each call) through the dispatcher, on the
// quantization engine range(2) indexes in this LibTorch's supported list (label: its name).
void BM_LinearDynamic(benchmark::State& state) {
  const int64_t batch = state.range(0);
  ConfigureCpuThreads(static_cast<int>(state.range(1)));
  const std::vector<at::QEngine>& engines = at::globalContext().supportedQEngines();
  const auto engine_index = static_cast<size_t>(state.range(2));
  if (engine_index >= engines.size() || engines[engine_index] == at::QEngine::NoQEngine) {
    return state.SkipWithError("no such quantization engine in this LibTorch");
  }
  at::globalContext().setQEngine(engines[engine_index]);
  torch::manual_seed(0);
  const at::Tensor weight = at::randn({kSide, kSide}) / 90.0;
  const double scale = weight.abs().max().item<double>() / 127.0;
  torch::jit::Stack stack = {at::quantize_per_tensor(weight, scale, 0, at::kQInt8), c10::IValue()};
  c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_prepack", "").callBoxed(&stack);
  const c10::IValue packed = stack.at(0);
  const c10::OperatorHandle linear_dynamic =
      c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_dynamic", "");
  const at::Tensor x = at::randn({batch, kSide});
  torch::NoGradGuard no_grad;
  SideBySide(state, {"float", [&] { benchmark::DoNotOptimize(at::linear(x, weight)); }},
             {"linear_dynamic", [&] {
                torch::jit::Stack call = {x, packed, /*reduce_range=*/false};
                linear_dynamic.callBoxed(&call);
                benchmark::DoNotOptimize(call);
              }});
  state.SetLabel(c10::toString(engines[engine_index]));
}

// A zoo model with 4-bit weights (one range per tensor): LibTorch's forward of the float
// model against the runtime's graph in int8 mode (range(3) = 1) or exact mode (0).
void BM_Model(benchmark::State& state, const std::string& name, int64_t side) {
  const int64_t batch = state.range(0);
  ConfigureCpuThreads(static_cast<int>(state.range(1)));
  const Activations activations = state.range(2) == 1 ? Activations::kInt8 : Activations::kFloat;
  torch::manual_seed(0);
  const int64_t channels = side == 28 ? 1 : 3;
  auto created = nn_models::CreateModel(
      name, nn_models::ModelOptions().in_channels(channels).num_classes(side == 28 ? 10 : 1000).image_size(side));
  if (!created.ok()) return state.SkipWithError(std::string(created.status().message()).c_str());
  std::shared_ptr<nn_models::Classifier> model = *created;
  model->eval();
  const serialization::CompressedModel stored =
      runtime::testing::EncodeModel(*model, runtime::testing::WeightEncoding::kFourBits);
  auto graph = runtime::BuildGraph(*model, stored);
  if (!graph.ok()) return state.SkipWithError(std::string(graph.status().message()).c_str());
  const at::Tensor images = at::randn({batch, channels, side, side});
  torch::NoGradGuard no_grad;
  SideBySide(state, {"float", [&] { benchmark::DoNotOptimize(model->forward(images)); }},
             {"runtime", [&] { benchmark::DoNotOptimize(graph->Run(images, activations)); }});
  int64_t weights = 0;
  for (const at::Tensor& parameter : model->parameters()) weights += parameter.numel();
  state.counters["bytes_per_weight"] =
      static_cast<double>(graph->WeightBytes()) / static_cast<double>(weights);
}

// One generation step of an LSTM language model; range(0): 0 small, 1 medium.
void BM_LstmLmStep(benchmark::State& state) {
  ConfigureCpuThreads(static_cast<int>(state.range(1)));
  const Activations activations = state.range(2) == 1 ? Activations::kInt8 : Activations::kFloat;
  torch::manual_seed(0);
  const std::string name = state.range(0) == 0 ? "lstm_lm_small" : "lstm_lm_medium";
  auto created = nn_models::CreateModel(name, nn_models::ModelOptions().num_classes(10'000));
  if (!created.ok()) return state.SkipWithError(std::string(created.status().message()).c_str());
  auto& model = dynamic_cast<nn_models::LanguageModel&>(**created);
  model.eval();
  auto runtime_model = runtime::RuntimeLstmLm::Load(
      runtime::testing::EncodeModel(model, runtime::testing::WeightEncoding::kFourBits));
  if (!runtime_model.ok()) {
    return state.SkipWithError(std::string(runtime_model.status().message()).c_str());
  }
  runtime::RuntimeLstmLm::State runtime_state = runtime_model->InitialState();
  std::vector<float> logits(runtime_model->vocabulary_size());
  const at::Tensor token = at::full({1, 1}, 42, at::kLong);
  torch::NoGradGuard no_grad;
  SideBySide(state, {"float", [&] { benchmark::DoNotOptimize(model.forward(token)); }},
             {"runtime", [&] {
                runtime_model->Step(42, runtime_state, logits.data(), activations);
                benchmark::DoNotOptimize(logits.data());
              }});
  state.SetLabel(name);
  state.counters["bytes_per_weight"] = static_cast<double>(runtime_model->WeightBytes()) /
                                       static_cast<double>(nn_models::CountParameters(model));
}

void ModelArguments(benchmark::internal::Benchmark* benchmark, const std::vector<int64_t>& batches) {
  for (const int64_t threads : {1, 2}) {
    for (const int64_t batch : batches) {
      for (const int64_t int8 : {1, 0}) benchmark->Args({batch, threads, int8});
    }
  }
  benchmark->ArgNames({"batch", "threads", "int8"});
}

BENCHMARK(BM_Linear)->Apply(LinearArguments)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LinearDecodedTiles)
    ->ArgsProduct({{8, 4, 0, -8}, {1, 64}})
    ->ArgNames({"encoding", "batch"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LinearDynamic)
    ->ArgsProduct({{1, 64}, {1, 2}, {0, 1, 2}})
    ->ArgNames({"batch", "threads", "engine"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LstmLmStep)
    ->ArgsProduct({{0, 1}, {1, 2}, {1, 0}})
    ->ArgNames({"medium", "threads", "int8"})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Model, resnet20, std::string("resnet20"), 28)
    ->Apply([](auto* b) { ModelArguments(b, {1, 128}); })
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Model, resnet18, std::string("resnet18"), 224)
    ->Apply([](auto* b) { ModelArguments(b, {1}); })
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Model, mobilenetv2, std::string("mobilenetv2"), 224)
    ->Apply([](auto* b) { ModelArguments(b, {1}); })
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mc::benchmarks
