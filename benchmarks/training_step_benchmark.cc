// Whole training steps as the runner takes them: the loader's batch (worker threads,
// normalization), forward, cross-entropy, backward and FloatTraining's SGD update (Nesterov
// momentum 0.9, weight decay 5e-4), for ResNet-20 on Fashion-MNIST-shaped batches of 128.
// Every iteration is one epoch of kBatches steps over random images, so the loader's start
// per epoch is counted as in a run (amortized over 10 steps here, over 469 in a real epoch).
//   BM_TrainingStep/threads:T/channels_last:L   images/s of one layout
//   BM_ChannelsLastVsContiguous/threads:T       both layouts in alternation; ratio is
//                                               channels-last time / contiguous time
// The binary links tcmalloc, as the experiment binaries do (//third_party:tcmalloc).
//   bazel run //benchmarks:training_step_benchmark -- --benchmark_repetitions=3
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>

#include "benchmarks/side_by_side.h"
#include "common/cpu_threads.h"
#include "data/dataset_info.h"
#include "data/image_data.h"
#include "data/loader.h"
#include "experiments/float_training.h"
#include "nn_models/memory_format.h"
#include "nn_models/registry.h"
#include "serialization/experiment_config.pb.h"

namespace mc {
namespace {

constexpr int64_t kBatchSize = 128;
constexpr int64_t kBatches = 10;

data::ImageLoader FashionMnistShapedLoader() {
  const data::DatasetInfo info = data::GetDatasetInfo("fashion_mnist").value();
  at::manual_seed(0);
  data::ImageData images;
  images.images = at::randint(256, {kBatchSize * kBatches, 1, 28, 28}, at::kByte);
  images.labels = at::randint(10, {kBatchSize * kBatches}, at::kLong);
  data::LoaderOptions options;
  options.batch_size = kBatchSize;
  options.shuffle = true;
  options.seed = 1;
  return data::ImageLoader(std::move(images), info, options);
}

serialization::TrainingConfig Recipe() {
  serialization::TrainingConfig training;
  training.set_optimizer(serialization::TrainingConfig::SGD);
  training.set_lr(0.1);
  training.set_momentum(0.9);
  training.set_nesterov(true);
  training.set_weight_decay(5e-4);
  return training;
}

// ResNet-20 trained by FloatTraining on one layout, an epoch of the loader at a time.
class Trainer {
 public:
  explicit Trainer(bool channels_last) : channels_last_(channels_last) {
    at::manual_seed(1);
    auto model = nn_models::CreateModel("resnet20", nn_models::ModelOptions().in_channels(1)).value();
    if (channels_last_) nn_models::ToChannelsLast(*model);
    training_ = std::make_unique<experiments::FloatTraining>(std::move(model), Recipe());
  }

  void Epoch(const data::ImageLoader& loader) {
    loader.ForEachBatch(epoch_++, [&](const at::Tensor& images, const at::Tensor& labels) {
      const at::Tensor input = channels_last_ ? nn_models::ChannelsLast(images) : images;
      benchmark::DoNotOptimize(training_->TrainStep(input, labels).loss.item<float>());
      return true;
    });
  }

 private:
  bool channels_last_;
  int64_t epoch_ = 0;
  std::unique_ptr<experiments::FloatTraining> training_;
};

void BM_TrainingStep(benchmark::State& state) {
  ConfigureCpuThreads(static_cast<int>(state.range(0)));
  const data::ImageLoader loader = FashionMnistShapedLoader();
  Trainer trainer(/*channels_last=*/state.range(1) != 0);
  for (int i = 0; i < 2; ++i) trainer.Epoch(loader);  // oneDNN primitives, first touches
  for (auto _ : state) trainer.Epoch(loader);
  state.counters["images_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kBatches * kBatchSize), benchmark::Counter::kIsRate);
}

void BM_ChannelsLastVsContiguous(benchmark::State& state) {
  ConfigureCpuThreads(static_cast<int>(state.range(0)));
  const data::ImageLoader loader = FashionMnistShapedLoader();
  Trainer contiguous(/*channels_last=*/false);
  Trainer channels_last(/*channels_last=*/true);
  benchmarks::SideBySide(state, {"contiguous", [&] { contiguous.Epoch(loader); }},
                         {"channels_last", [&] { channels_last.Epoch(loader); }});
}

BENCHMARK(BM_TrainingStep)
    ->ArgNames({"threads", "channels_last"})
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(5);
BENCHMARK(BM_ChannelsLastVsContiguous)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(10);

}  // namespace
}  // namespace mc
