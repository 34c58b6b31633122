#include "data/cifar_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/status_matchers.h"
#include "data/dataset_info.h"
#include "data/labeled_images.h"
#include "data/testutil.h"

namespace mc::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Images first..first+count-1 of `images`.
LabeledImages Slice(const LabeledImages& images, int64_t first, int64_t count) {
  LabeledImages slice = images;
  slice.labels.assign(images.labels.begin() + first, images.labels.begin() + first + count);
  slice.pixels.assign(images.pixels.begin() + first * images.image_size(),
                      images.pixels.begin() + (first + count) * images.image_size());
  return slice;
}

// Tests the record sizes and file names of the published archives.
TEST(CifarReaderTest, PublishedLayout) {
  EXPECT_EQ(CifarRecordBytes(CifarVariant::kCifar10), 3073);
  EXPECT_EQ(CifarRecordBytes(CifarVariant::kCifar100), 3074);
  EXPECT_THAT(
      CifarFileNames(CifarVariant::kCifar10, Split::kTrain),
      ElementsAre("cifar-10-batches-bin/data_batch_1.bin", "cifar-10-batches-bin/data_batch_2.bin",
                  "cifar-10-batches-bin/data_batch_3.bin", "cifar-10-batches-bin/data_batch_4.bin",
                  "cifar-10-batches-bin/data_batch_5.bin"));
  EXPECT_THAT(CifarFileNames(CifarVariant::kCifar10, Split::kTest),
              ElementsAre("cifar-10-batches-bin/test_batch.bin"));
  EXPECT_THAT(CifarFileNames(CifarVariant::kCifar100, Split::kTrain),
              ElementsAre("cifar-100-binary/train.bin"));
  EXPECT_THAT(CifarFileNames(CifarVariant::kCifar100, Split::kTest),
              ElementsAre("cifar-100-binary/test.bin"));
}

// Tests that a hand-made record puts the label first and the pixels in CHW order.
TEST(CifarReaderTest, DecodesRecordLayout) {
  const std::string path = MakeTestDir("cifar_record") + "/one.bin";
  std::vector<uint8_t> record = {7};
  for (int i = 0; i < 3072; ++i) record.push_back(static_cast<uint8_t>(i / 1024 * 100 + i % 7));
  WriteFile(path, record);
  MC_ASSERT_OK_AND_ASSIGN(const LabeledImages images,
                          ReadCifarFiles({path}, CifarVariant::kCifar10));
  EXPECT_EQ(images.channels, 3);
  EXPECT_EQ(images.height, 32);
  EXPECT_EQ(images.width, 32);
  EXPECT_THAT(images.labels, ElementsAre(7));
  // Channel 2 (blue), row 1, column 3 is byte 2 * 1024 + 1 * 32 + 3 after the label.
  EXPECT_EQ(images.pixels[2 * 1024 + 32 + 3], 200 + (2 * 1024 + 32 + 3) % 7);
}

// Tests that CIFAR-10 splits generated in the official layout read back exactly, the
// training batches concatenated in order.
TEST(CifarReaderTest, ReadsCifar10Splits) {
  const std::string dir = MakeTestDir("cifar10_splits");
  const LabeledImages images = PatternedImages(13, 3, 32, 32, 10);
  for (int batch = 0; batch < 5; ++batch) {
    WriteFile(dir + "/cifar-10-batches-bin/data_batch_" + std::to_string(batch + 1) + ".bin",
              CifarFileBytes(Slice(images, batch * 2, 2), CifarVariant::kCifar10));
  }
  WriteFile(dir + "/cifar-10-batches-bin/test_batch.bin",
            CifarFileBytes(Slice(images, 10, 3), CifarVariant::kCifar10));

  MC_ASSERT_OK_AND_ASSIGN(const LabeledImages train,
                          ReadCifar(dir, CifarVariant::kCifar10, Split::kTrain));
  EXPECT_EQ(train.labels, Slice(images, 0, 10).labels);
  EXPECT_EQ(train.pixels, Slice(images, 0, 10).pixels);

  MC_ASSERT_OK_AND_ASSIGN(const LabeledImages test,
                          ReadCifar(dir, CifarVariant::kCifar10, Split::kTest));
  EXPECT_EQ(test.labels, Slice(images, 10, 3).labels);
  EXPECT_EQ(test.pixels, Slice(images, 10, 3).pixels);
}

// Tests that CIFAR-100 files read back exactly, with the fine label as the class.
TEST(CifarReaderTest, ReadsCifar100FineLabels) {
  const std::string dir = MakeTestDir("cifar100_splits");
  const LabeledImages train = PatternedImages(6, 3, 32, 32, 100);
  const LabeledImages test = Slice(PatternedImages(9, 3, 32, 32, 100), 6, 3);
  WriteFile(dir + "/cifar-100-binary/train.bin", CifarFileBytes(train, CifarVariant::kCifar100));
  WriteFile(dir + "/cifar-100-binary/test.bin", CifarFileBytes(test, CifarVariant::kCifar100));
  for (const auto& [split, expected] : {std::pair{Split::kTrain, train}, {Split::kTest, test}}) {
    MC_ASSERT_OK_AND_ASSIGN(const LabeledImages read,
                            ReadCifar(dir, CifarVariant::kCifar100, split));
    EXPECT_EQ(read.labels, expected.labels);
    EXPECT_EQ(read.pixels, expected.pixels);
  }
  EXPECT_THAT(train.labels, ElementsAre(3, 10, 17, 24, 31, 38));
}

// Tests that missing files are reported by name, each one, with where to download them.
TEST(CifarReaderTest, MissingFilesAreNamed) {
  const std::string dir = MakeTestDir("cifar_missing");
  WriteFile(dir + "/cifar-10-batches-bin/data_batch_2.bin",
            CifarFileBytes(PatternedImages(1, 3, 32, 32, 10), CifarVariant::kCifar10));
  const std::string batches = dir + "/cifar-10-batches-bin/data_batch_";
  EXPECT_THAT(ReadCifar(dir, CifarVariant::kCifar10, Split::kTrain),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("CIFAR-10 train files not found: " + batches + "1.bin, " +
                                 batches + "3.bin, " + batches + "4.bin, " + batches +
                                 "5.bin. Download the binary version "
                                 "(cifar-10-binary.tar.gz) from "
                                 "https://www.cs.toronto.edu/~kriz/cifar.html")));
  EXPECT_THAT(
      ReadCifar(dir, CifarVariant::kCifar100, Split::kTest),
      StatusIs(absl::StatusCode::kNotFound,
               HasSubstr("CIFAR-100 test files not found: " + dir + "/cifar-100-binary/test.bin")));
}

// Tests that a file ending inside a record is a data-loss error naming the file.
TEST(CifarReaderTest, RejectsTruncatedRecord) {
  const std::string path = MakeTestDir("cifar_truncated") + "/test.bin";
  std::vector<uint8_t> bytes =
      CifarFileBytes(PatternedImages(2, 3, 32, 32, 100), CifarVariant::kCifar100);
  bytes.resize(bytes.size() - 10);
  WriteFile(path, bytes);
  EXPECT_THAT(
      ReadCifarFiles({path}, CifarVariant::kCifar100),
      StatusIs(
          absl::StatusCode::kDataLoss,
          HasSubstr(path + ": truncated CIFAR-100 file: 6138 bytes hold 1 whole records of 3074 "
                           "bytes and 3064 bytes of a partial one")));
}

// Tests that an empty file is an error rather than zero images.
TEST(CifarReaderTest, RejectsEmptyFile) {
  const std::string path = MakeTestDir("cifar_empty") + "/data_batch_1.bin";
  WriteFile(path, {});
  EXPECT_THAT(ReadCifarFiles({path}, CifarVariant::kCifar10),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(path + ": empty file")));
}

// Tests that labels out of range are rejected with the record number.
TEST(CifarReaderTest, RejectsLabelsOutOfRange) {
  const std::string dir = MakeTestDir("cifar_labels");
  std::vector<uint8_t> cifar10 =
      CifarFileBytes(PatternedImages(2, 3, 32, 32, 10), CifarVariant::kCifar10);
  cifar10[3073] = 10;
  WriteFile(dir + "/ten.bin", cifar10);
  EXPECT_THAT(ReadCifarFiles({dir + "/ten.bin"}, CifarVariant::kCifar10),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(dir + "/ten.bin: record 1 has label 10, out of range [0, 10)")));

  std::vector<uint8_t> cifar100 =
      CifarFileBytes(PatternedImages(2, 3, 32, 32, 100), CifarVariant::kCifar100);
  cifar100[1] = 100;
  WriteFile(dir + "/fine.bin", cifar100);
  EXPECT_THAT(
      ReadCifarFiles({dir + "/fine.bin"}, CifarVariant::kCifar100),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(dir + "/fine.bin: record 0 has fine label 100, out of range [0, 100)")));
  cifar100[1] = 5;
  cifar100[3074] = 20;
  WriteFile(dir + "/coarse.bin", cifar100);
  EXPECT_THAT(
      ReadCifarFiles({dir + "/coarse.bin"}, CifarVariant::kCifar100),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(dir + "/coarse.bin: record 1 has coarse label 20, out of range [0, 20)")));
}

}  // namespace
}  // namespace mc::data
