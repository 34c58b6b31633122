// DiffQ's cost next to plain training and evaluation, measured side by side: every
// iteration times one float step and one DiffQ step on identical models and batches, in
// alternation, so that the shared, noisy machine affects both alike. Counters: float_ms,
// diffq_ms and ratio (diffq / float). The training steps are those of the speed acceptance
// recipe: Fashion-MNIST-shaped batches (1x28x28), channels-last, DiffQ with group 8,
// min_size 0.01 and penalty 5, as cifar_diffq trains them.
// Plus the write and read of a ResNet-18 DiffQ state.
//   bazel run //benchmarks:diffq_benchmark -- --benchmark_repetitions=3
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/utils.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "benchmarks/side_by_side.h"
#include "common/cpu_threads.h"
#include "common/units.h"
#include "nn_models/memory_format.h"
#include "nn_models/classifier.h"
#include "nn_models/registry.h"
#include "quant/diffq.h"
#include "serialization/model_file.h"

namespace mc {
namespace {

using benchmarks::SideBySide;

std::shared_ptr<nn_models::Classifier> Model(const std::string& name, int64_t num_classes,
                                             int64_t in_channels = 3) {
  at::manual_seed(0);
  return nn_models::CreateModel(
             name, nn_models::ModelOptions().num_classes(num_classes).in_channels(in_channels))
      .value();
}

quant::DiffQuantizerOptions CifarRecipe() {
  return quant::DiffQuantizerOptions().group_size(8).min_size(0.01);
}

// A ResNet-20 for 1x28x28 images stored channels-last (nn_models/memory_format.h).
std::shared_ptr<nn_models::Classifier> ChannelsLastResNet20() {
  auto model = Model("resnet20", 10, /*in_channels=*/1);
  nn_models::ToChannelsLast(*model);
  return model;
}

void BM_DiffQ_ResNet20TrainStep(benchmark::State& state) {
  const int64_t batch = state.range(0);
  ConfigureCpuThreads(static_cast<int>(state.range(1)));
  auto plain = ChannelsLastResNet20();
  auto noisy = ChannelsLastResNet20();
  torch::optim::SGD plain_optimizer(plain->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  torch::optim::SGD noisy_optimizer(noisy->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  quant::DiffQuantizer quantizer(noisy, CifarRecipe());
  torch::optim::Adam bits_optimizer(std::vector<torch::optim::OptimizerParamGroup>{},
                                    torch::optim::AdamOptions(1e-3));
  quantizer.setup_optimizer(bits_optimizer, 1e-3);
  const at::Tensor images = nn_models::ChannelsLast(at::randn({batch, 1, 28, 28}));
  const at::Tensor labels = at::randint(10, {batch}, at::kLong);
  plain->train();
  noisy->train();
  SideBySide(
      state,
      {"float", [&] {
        plain_optimizer.zero_grad();
        torch::nn::functional::cross_entropy(plain->forward(images), labels).backward();
        plain_optimizer.step();
      }},
      {"diffq", [&] {
        noisy_optimizer.zero_grad();
        bits_optimizer.zero_grad();
        {
          quant::TrainingStep step = quantizer.training_step();
          (torch::nn::functional::cross_entropy(noisy->forward(images), labels) +
           5 * quantizer.model_size())
              .backward();
          step.backward();
        }
        noisy_optimizer.step();
        bits_optimizer.step();
      }});
}

void BM_DiffQ_ResNet20Eval(benchmark::State& state) {
  const int64_t batch = state.range(0);
  ConfigureCpuThreads(1);
  auto plain = ChannelsLastResNet20();
  auto quantized = ChannelsLastResNet20();
  quant::DiffQuantizer quantizer(quantized, CifarRecipe());
  quantizer.no_optimizer();
  plain->eval();
  quantized->eval();
  const at::Tensor images = nn_models::ChannelsLast(at::randn({batch, 1, 28, 28}));
  torch::NoGradGuard no_grad;
  SideBySide(
      state, {"float", [&] { benchmark::DoNotOptimize(plain->forward(images).data_ptr()); }},
      {"diffq", [&] {
        quantizer.quantize();  // computed once, then free
        benchmark::DoNotOptimize(quantized->forward(images).data_ptr());
      }});
}

void BM_DiffQ_ResNet18StateWriteRead(benchmark::State& state) {
  auto model = Model("resnet18", 10);
  quant::DiffQuantizer quantizer(model, quant::DiffQuantizerOptions().group_size(8));
  quantizer.no_optimizer();
  {
    torch::NoGradGuard no_grad;
    for (const at::Tensor& logit : quantizer.logits()) logit.uniform_(-2, 2);  // mixed widths
  }
  auto restored = Model("resnet18", 10);
  quant::DiffQuantizer restorer(restored, quant::DiffQuantizerOptions().group_size(8));
  const std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                           "/diffq_benchmark_resnet18.mcm";
  int64_t bytes = 0;
  for (auto _ : state) {
    if (!serialization::WriteModelFile(path, quantizer.get_quantized_state()).ok()) {
      state.SkipWithError("write failed");
      return;
    }
    absl::StatusOr<serialization::CompressedModel> read = serialization::ReadModelFile(path);
    if (!read.ok() || !restorer.restore_quantized_state(*read).ok()) {
      state.SkipWithError("read or restore failed");
      return;
    }
    bytes = static_cast<int64_t>(read->ByteSizeLong());
  }
  state.counters["file_mb"] = static_cast<double>(bytes) / kBytesPerMb;
  state.counters["true_size_mb"] = quantizer.true_model_size();
  std::remove(path.c_str());
}

BENCHMARK(BM_DiffQ_ResNet20TrainStep)->ArgNames({"batch", "threads"})->Args({128, 1})->Args({128, 2})->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(5);
BENCHMARK(BM_DiffQ_ResNet20Eval)->ArgName("batch")->Arg(128)->Arg(1)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(3);
BENCHMARK(BM_DiffQ_ResNet18StateWriteRead)->Unit(benchmark::kMillisecond)->MinTime(3);

}  // namespace
}  // namespace mc
