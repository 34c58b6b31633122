#include "data/image_dataset.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "data/dataset_info.h"
#include "data/epoch_order.h"
#include "data/image_data.h"
#include "data/testutil.h"
#include "data/transforms.h"

namespace mc::data {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

constexpr int64_t kExamples = 6;

ImageData SmallCifar() { return ToImageData(PatternedImages(kExamples, 3, 32, 32, 10)); }

TransformOptions Augmenting() {
  TransformOptions options;
  options.augment = true;
  options.seed = 11;
  return options;
}

// The transformed image `index` of `data` in `epoch`, computed by ImageTransform directly.
at::Tensor Expected(const ImageData& data, const ImageTransform& transform, int64_t epoch,
                    int64_t index) {
  at::Tensor out = at::empty({3, 32, 32}, at::kFloat);
  transform.Apply(data.images[index].data_ptr<uint8_t>(), epoch, index, out.data_ptr<float>());
  return out;
}

// Tests that a batch holds the requested examples, transformed as in the request's epoch,
// with their labels.
TEST(ImageDatasetTest, BatchHoldsRequestedExamples) {
  const DatasetInfo info = *GetDatasetInfo("cifar10");
  const ImageData data = SmallCifar();
  const ImageTransform transform(info, Augmenting());
  ImageDataset dataset(data, info, Augmenting());
  EXPECT_EQ(dataset.size(), kExamples);

  const torch::data::Example<> batch = dataset.get_batch(EpochBatchRequest{5, {4, 0, 4}});
  ASSERT_EQ(batch.data.sizes(), at::IntArrayRef({3, 3, 32, 32}));
  EXPECT_EQ(batch.data.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(batch.target, data.labels.index_select(0, at::tensor({4, 0, 4}))));
  EXPECT_TRUE(at::equal(batch.data[0], Expected(data, transform, 5, 4)));
  EXPECT_TRUE(at::equal(batch.data[1], Expected(data, transform, 5, 0)));
  EXPECT_TRUE(at::equal(batch.data[2], batch.data[0]));
  const torch::data::Example<> next_epoch = dataset.get_batch(EpochBatchRequest{6, {4}});
  EXPECT_TRUE(at::equal(next_epoch.data[0], Expected(data, transform, 6, 4)));
}

// Tests that without augmentation a batch is the normalized images.
TEST(ImageDatasetTest, NormalizesWithoutAugmentation) {
  const DatasetInfo info = *GetDatasetInfo("cifar10");
  const ImageData data = SmallCifar();
  ImageDataset dataset(data, info, TransformOptions{});
  const at::Tensor mean = at::tensor(info.mean).view({3, 1, 1});
  const at::Tensor std = at::tensor(info.std).view({3, 1, 1});
  const at::Tensor expected = (data.images.to(at::kFloat) / 255.0f - mean) / std;
  EXPECT_TRUE(at::allclose(dataset.get_batch(EpochBatchRequest{0, {0, 1, 2, 3, 4, 5}}).data,
                           expected, /*rtol=*/0, /*atol=*/1e-5));
}

// Tests that an index outside the data set is rejected.
TEST(ImageDatasetTest, RejectsIndexOutOfRange) {
  ImageDataset dataset(SmallCifar(), *GetDatasetInfo("cifar10"), TransformOptions{});
  EXPECT_THAT(
      [&] {
        dataset.get_batch(EpochBatchRequest{0, {1, kExamples}});
      },
      ThrowsMessage<c10::Error>(HasSubstr("index 6 is out of range for 6 examples")));
}

// Tests that data of another data set's shape is rejected at construction.
TEST(ImageDatasetTest, RejectsMismatchedData) {
  EXPECT_THAT([] { ImageDataset(SmallCifar(), *GetDatasetInfo("mnist"), TransformOptions{}); },
              ThrowsMessage<c10::Error>(HasSubstr("images must be contiguous uint8 of shape")));
}

}  // namespace
}  // namespace mc::data
