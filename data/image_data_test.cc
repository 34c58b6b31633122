#include "data/image_data.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/status_matchers.h"
#include "data/cifar_reader.h"
#include "data/labeled_images.h"
#include "data/testutil.h"

namespace mc::data {
namespace {

using ::testing::HasSubstr;

// Writes `images` as the MNIST-style files of the test split in `dir`, uncompressed.
void WriteTestSplit(const std::string& dir, const LabeledImages& images) {
  WriteFile(dir + "/t10k-images-idx3-ubyte",
            IdxFileBytes({images.size(), images.height, images.width}, images.pixels));
  WriteFile(dir + "/t10k-labels-idx1-ubyte",
            IdxFileBytes({images.size()},
                         std::vector<uint8_t>(images.labels.begin(), images.labels.end())));
}

// Tests that the installed Fashion-MNIST loads completely: 60,000 and 10,000 images of
// 1x28x28, 6,000 and 1,000 of each of the 10 classes, and the known first labels and
// pixel sums.
TEST(LoadImageDataTest, LoadsInstalledFashionMnist) {
  for (const auto& [split, count, pixel_sum] :
       {std::tuple{Split::kTrain, int64_t{60000}, int64_t{3431114169}},
        std::tuple{Split::kTest, int64_t{10000}, int64_t{573469082}}}) {
    MC_ASSERT_OK_AND_ASSIGN(const ImageData data, LoadImageData("fashion_mnist", "", split));
    EXPECT_EQ(data.images.sizes(), at::IntArrayRef({count, 1, 28, 28}));
    EXPECT_EQ(data.images.scalar_type(), at::kByte);
    EXPECT_EQ(data.labels.sizes(), at::IntArrayRef({count}));
    EXPECT_EQ(data.labels.scalar_type(), at::kLong);
    EXPECT_EQ(data.labels[0].item<int64_t>(), 9);
    EXPECT_EQ(data.images.sum().item<int64_t>(), pixel_sum);
    const at::Tensor class_counts = at::bincount(data.labels);
    EXPECT_TRUE(at::equal(class_counts, at::full({10}, count / 10, at::kLong)));
  }
}

// Tests that MNIST-style files are found uncompressed too, and read exactly.
TEST(LoadImageDataTest, ReadsPlainIdxFilesFromGivenDirectory) {
  const std::string dir = MakeTestDir("image_data_plain_idx");
  const LabeledImages images = PatternedImages(4, 1, 28, 28, 10);
  WriteTestSplit(dir, images);
  MC_ASSERT_OK_AND_ASSIGN(const ImageData data, LoadImageData("mnist", dir, Split::kTest));
  EXPECT_EQ(data.images.sizes(), at::IntArrayRef({4, 1, 28, 28}));
  EXPECT_EQ(std::vector<uint8_t>(data.images.data_ptr<uint8_t>(),
                                 data.images.data_ptr<uint8_t>() + images.pixels.size()),
            images.pixels);
  EXPECT_EQ(
      std::vector<int64_t>(data.labels.data_ptr<int64_t>(), data.labels.data_ptr<int64_t>() + 4),
      images.labels);
}

// Tests that images of another size than the data set's are rejected, naming the file.
TEST(LoadImageDataTest, RejectsWrongImageSize) {
  const std::string dir = MakeTestDir("image_data_wrong_size");
  WriteTestSplit(dir, PatternedImages(2, 1, 32, 32, 10));
  EXPECT_THAT(
      LoadImageData("fashion_mnist", dir, Split::kTest),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr(dir +
                    "/t10k-images-idx3-ubyte holds 32x32 images; fashion_mnist images are 28x28")));
}

// Tests that missing MNIST files are named with where to get them.
TEST(LoadImageDataTest, NamesMissingIdxFiles) {
  const std::string dir = MakeTestDir("image_data_missing");
  EXPECT_THAT(
      LoadImageData("mnist", dir, Split::kTrain),
      StatusIs(
          absl::StatusCode::kNotFound,
          HasSubstr("mnist train files not found: " + dir + "/train-images-idx3-ubyte.gz, " + dir +
                    "/train-labels-idx1-ubyte.gz (or the same without .gz); download them from "
                    "https://yann.lecun.com/exdb/mnist/")));
  EXPECT_THAT(
      LoadImageData("cifar100", dir, Split::kTrain),
      StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir + "/cifar-100-binary/train.bin")));
}

// Tests that CIFAR-10 loads into (N, 3, 32, 32) tensors with the file's pixels.
TEST(LoadImageDataTest, LoadsCifar10) {
  const std::string dir = MakeTestDir("image_data_cifar10");
  const LabeledImages images = PatternedImages(3, 3, 32, 32, 10);
  WriteFile(dir + "/cifar-10-batches-bin/test_batch.bin",
            CifarFileBytes(images, CifarVariant::kCifar10));
  MC_ASSERT_OK_AND_ASSIGN(const ImageData data, LoadImageData("cifar10", dir, Split::kTest));
  EXPECT_EQ(data.images.sizes(), at::IntArrayRef({3, 3, 32, 32}));
  EXPECT_EQ(data.images[2][1][5][7].item<int64_t>(),
            images.pixels[2 * 3072 + 1 * 1024 + 5 * 32 + 7]);
  EXPECT_EQ(data.labels[2].item<int64_t>(), images.labels[2]);
}

// Tests that the synthetic data set needs no files and has its default sizes.
TEST(LoadImageDataTest, LoadsSynthetic) {
  MC_ASSERT_OK_AND_ASSIGN(const ImageData train, LoadImageData("synthetic", "", Split::kTrain));
  MC_ASSERT_OK_AND_ASSIGN(const ImageData test,
                          LoadImageData("synthetic", "/nonexistent", Split::kTest));
  EXPECT_EQ(train.images.sizes(), at::IntArrayRef({2000, 3, 32, 32}));
  EXPECT_EQ(test.images.sizes(), at::IntArrayRef({500, 3, 32, 32}));
}

// Tests that an unknown data set name is a not-found error listing the valid names.
TEST(LoadImageDataTest, RejectsUnknownName) {
  EXPECT_THAT(
      LoadImageData("svhn", "", Split::kTrain),
      StatusIs(absl::StatusCode::kNotFound,
               HasSubstr("valid names: cifar10, cifar100, fashion_mnist, kjv, mnist, ptb, "
                         "synthetic, wikitext103, wikitext2")));
}

// Tests that a text corpus is refused by name.
TEST(LoadImageDataTest, RejectsTextCorpus) {
  EXPECT_THAT(LoadImageData("kjv", "", Split::kTrain),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"kjv\" is a text corpus")));
}

// Tests that ToImageData hands the pixel buffer to the tensor without copying it.
TEST(ToImageDataTest, MovesPixelsWithoutCopy) {
  LabeledImages images = PatternedImages(2, 1, 3, 3, 10);
  const uint8_t* pixels = images.pixels.data();
  const ImageData data = ToImageData(std::move(images));
  EXPECT_EQ(data.images.data_ptr<uint8_t>(), pixels);
  EXPECT_EQ(data.images.sizes(), at::IntArrayRef({2, 1, 3, 3}));
}

// Tests that ValidateImageData reports wrong shapes, dtypes and labels.
TEST(ValidateImageDataTest, ReportsMismatches) {
  const DatasetInfo info = *GetDatasetInfo("mnist");
  const ImageData valid{at::zeros({3, 1, 28, 28}, at::kByte), at::tensor({0, 9, 2}, at::kLong)};
  EXPECT_THAT(ValidateImageData(valid, info), IsOk());
  EXPECT_THAT(
      ValidateImageData({valid.images.to(at::kFloat), valid.labels}, info),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("images must be contiguous uint8 of shape (N, 1, 28, 28) for mnist")));
  EXPECT_THAT(ValidateImageData({valid.images.view({3, 28, 28}), valid.labels}, info),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("of shape (3, 28, 28)")));
  EXPECT_THAT(ValidateImageData({valid.images, valid.labels.slice(0, 0, 2)}, info),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("labels must be contiguous int64 of shape (3)")));
  EXPECT_THAT(ValidateImageData({valid.images, at::tensor({0, 10, 2}, at::kLong)}, info),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("label 10 of example 1 is out of range [0, 10) of mnist")));
}

}  // namespace
}  // namespace mc::data
