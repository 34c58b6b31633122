// Images per second that ImageLoader delivers over the Fashion-MNIST training split
// (60,000 images of 1x28x28, batch 128, shuffled), with and without augmentation, for 0
// (calling thread), 1 and 2 DataLoader workers. The consumer does nothing, so this is the
// loader's own throughput: the ceiling it puts on a training loop. Next to it, the images per
// second of one ResNet-20 training step on the same batches (SGD, batch 128): the loader
// keeps up when its rate is far above the step's.
#include <ATen/core/Tensor.h>
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "data/image_data.h"
#include "data/loader.h"
#include "nn_models/classifier.h"
#include "nn_models/registry.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/sgd.h>

namespace mc::data {
namespace {

// Batches of the warm-up epoch: enough to start the workers and let the allocator settle
// on reusing batch buffers before timing.
constexpr int kWarmUpBatches = 50;

const absl::StatusOr<ImageData>& FashionMnistTrain() {
  static const auto* const data =
      new absl::StatusOr<ImageData>(LoadImageData("fashion_mnist", "", Split::kTrain));
  return *data;
}

void BM_ImageLoader_FashionMnist(benchmark::State& state) {
  const absl::StatusOr<ImageData>& train = FashionMnistTrain();
  if (!train.ok()) {
    state.SkipWithError(std::string(train.status().message()).c_str());
    return;
  }
  LoaderOptions options;
  options.batch_size = 128;
  options.shuffle = true;
  options.augment = state.range(0) != 0;
  options.workers = state.range(1);
  const ImageLoader loader(*train, *GetDatasetInfo("fashion_mnist"), options);

  int64_t epoch = 0;
  int warm_up_batches = 0;
  loader.ForEachBatch(epoch++, [&](const at::Tensor& images, const at::Tensor&) {
    benchmark::DoNotOptimize(images.data_ptr());
    return ++warm_up_batches < kWarmUpBatches;
  });

  int64_t images_loaded = 0;
  for (auto _ : state) {
    loader.ForEachBatch(epoch++, [&](const at::Tensor& images, const at::Tensor& labels) {
      benchmark::DoNotOptimize(images.data_ptr());
      benchmark::DoNotOptimize(labels.data_ptr());
      images_loaded += images.size(0);
      return true;
    });
  }
  state.SetItemsProcessed(images_loaded);
  state.counters["images_per_epoch"] = static_cast<double>(loader.num_examples());
}

BENCHMARK(BM_ImageLoader_FashionMnist)
    ->ArgsProduct({{0, 1}, {0, 1, 2}})
    ->ArgNames({"augment", "workers"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_ResNet20_TrainStep(benchmark::State& state) {
  at::manual_seed(0);
  absl::StatusOr<std::shared_ptr<nn_models::Classifier>> model = nn_models::CreateModel(
      "resnet20", nn_models::ModelOptions().in_channels(1).image_size(28));
  if (!model.ok()) {
    state.SkipWithError(std::string(model.status().message()).c_str());
    return;
  }
  torch::optim::SGD optimizer((*model)->parameters(),
                              torch::optim::SGDOptions(0.1).momentum(0.9).nesterov(true));
  const at::Tensor images = at::randn({128, 1, 28, 28});
  const at::Tensor labels = at::randint(10, {128}, at::kLong);
  const auto step = [&] {
    optimizer.zero_grad();
    torch::nn::functional::cross_entropy((*model)->forward(images), labels).backward();
    optimizer.step();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: allocations and oneDNN primitives
  for (auto _ : state) step();
  state.SetItemsProcessed(state.iterations() * 128);
}

BENCHMARK(BM_ResNet20_TrainStep)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace mc::data
