#include "data/idx_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/status_matchers.h"
#include "data/labeled_images.h"
#include "data/testutil.h"

namespace mc::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct IdxFiles {
  std::string images;
  std::string labels;
};

// Writes `images` as an image file and a label file in `dir`.
IdxFiles WriteIdxImages(const std::string& dir, const LabeledImages& images,
                        Compression compression) {
  const std::string suffix = compression == Compression::kGzip ? ".gz" : "";
  IdxFiles files{dir + "/images-idx3-ubyte" + suffix, dir + "/labels-idx1-ubyte" + suffix};
  WriteFile(files.images, IdxFileBytes({images.size(), images.height, images.width}, images.pixels),
            compression);
  std::vector<uint8_t> labels(images.labels.begin(), images.labels.end());
  WriteFile(files.labels, IdxFileBytes({images.size()}, labels), compression);
  return files;
}

class IdxRoundTripTest : public ::testing::TestWithParam<Compression> {};

// Tests that generated image and label files read back exactly, compressed or not.
TEST_P(IdxRoundTripTest, ReadsBackWhatWasWritten) {
  const std::string dir = MakeTestDir("idx_round_trip");
  const LabeledImages written = PatternedImages(5, 1, 4, 3, 10);
  const IdxFiles files = WriteIdxImages(dir, written, GetParam());
  MC_ASSERT_OK_AND_ASSIGN(const LabeledImages read, ReadIdxImages(files.images, files.labels, 10));
  EXPECT_EQ(read.channels, 1);
  EXPECT_EQ(read.height, 4);
  EXPECT_EQ(read.width, 3);
  EXPECT_EQ(read.pixels, written.pixels);
  EXPECT_EQ(read.labels, written.labels);
}

INSTANTIATE_TEST_SUITE_P(PlainAndGzip, IdxRoundTripTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip));

// Tests that ReadIdxFile returns the dimensions and values of any unsigned-byte array.
TEST(ReadIdxFileTest, ReadsDimensionsAndValues) {
  const std::string path = MakeTestDir("idx_array") + "/array";
  WriteFile(path, IdxFileBytes({2, 1, 3}, {1, 2, 3, 4, 5, 6}));
  MC_ASSERT_OK_AND_ASSIGN(const IdxArray array, ReadIdxFile(path));
  EXPECT_THAT(array.dims, ElementsAre(2, 1, 3));
  EXPECT_THAT(array.values, ElementsAre(1, 2, 3, 4, 5, 6));
}

// Tests that arrays with a size of 0, wherever it is, are read as empty, and that bytes after
// such an array are reported as trailing bytes, not as a truncation.
TEST(ReadIdxFileTest, ReadsEmptyArrays) {
  const std::string dir = MakeTestDir("idx_empty");
  for (const std::vector<int64_t>& dims :
       std::vector<std::vector<int64_t>>{{0}, {0, 28, 28}, {3, 0}, {4000000000, 0, 7}}) {
    WriteFile(dir + "/array", IdxFileBytes(dims, {}));
    MC_ASSERT_OK_AND_ASSIGN(const IdxArray array, ReadIdxFile(dir + "/array"));
    EXPECT_EQ(array.dims, dims);
    EXPECT_TRUE(array.values.empty());
  }
  WriteFile(dir + "/array", IdxFileBytes({3, 0}, {1, 2}));
  EXPECT_THAT(
      ReadIdxFile(dir + "/array"),
      StatusIs(absl::StatusCode::kDataLoss,
               HasSubstr(dir + "/array: 2 unexpected bytes after the data of shape (3, 0)")));
}

// Tests that a file cut inside the data is a data-loss error naming the file.
TEST(ReadIdxFileTest, RejectsTruncatedData) {
  const std::string path = MakeTestDir("idx_truncated") + "/images.gz";
  std::vector<uint8_t> bytes = IdxFileBytes({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  bytes.pop_back();
  WriteFile(path, bytes, Compression::kGzip);
  EXPECT_THAT(
      ReadIdxFile(path),
      StatusIs(absl::StatusCode::kDataLoss,
               HasSubstr(path + ": truncated IDX file: the header promises shape (2, 2, 2)")));
}

// Tests that a file cut inside the header is a data-loss error.
TEST(ReadIdxFileTest, RejectsTruncatedHeader) {
  const std::string path = MakeTestDir("idx_short_header") + "/images";
  WriteFile(path, {0, 0, 0x08, 3, 0, 0, 0, 2});
  EXPECT_THAT(
      ReadIdxFile(path),
      StatusIs(
          absl::StatusCode::kDataLoss,
          HasSubstr(path + ": truncated IDX file: the header of 3 dimensions needs 16 bytes")));
}

// Tests that bytes after the data are rejected rather than ignored.
TEST(ReadIdxFileTest, RejectsTrailingBytes) {
  const std::string path = MakeTestDir("idx_trailing") + "/labels";
  WriteFile(path, IdxFileBytes({2}, {1, 2, 3}));
  EXPECT_THAT(ReadIdxFile(path),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr(path + ": 1 unexpected bytes after the data of shape (2)")));
}

// Tests that a file that does not start with an IDX magic number is rejected.
TEST(ReadIdxFileTest, RejectsWrongMagicNumber) {
  const std::string path = MakeTestDir("idx_magic") + "/images";
  std::vector<uint8_t> bytes = IdxFileBytes({2}, {1, 2});
  bytes[0] = 0x12;
  WriteFile(path, bytes);
  EXPECT_THAT(ReadIdxFile(path), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr(path + ": wrong magic number 0x12000801")));
}

// Tests that element types other than unsigned byte are rejected.
TEST(ReadIdxFileTest, RejectsOtherElementTypes) {
  const std::string path = MakeTestDir("idx_type") + "/floats";
  std::vector<uint8_t> bytes = IdxFileBytes({1}, {0, 0, 0, 0});
  bytes[2] = 0x0d;
  WriteFile(path, bytes);
  EXPECT_THAT(ReadIdxFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(path + ": IDX element type 0x0d is not supported")));
}

// Tests that image and label files with different counts are rejected.
TEST(ReadIdxImagesTest, RejectsCountMismatch) {
  const std::string dir = MakeTestDir("idx_count_mismatch");
  const IdxFiles files = WriteIdxImages(dir, PatternedImages(3, 1, 2, 2, 10), Compression::kNone);
  WriteFile(files.labels, IdxFileBytes({2}, {0, 1}));
  EXPECT_THAT(
      ReadIdxImages(files.images, files.labels, 10),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(files.images + " holds 3 images but " +
                                                             files.labels + " holds 2 labels")));
}

// Tests that a label outside [0, num_classes) is rejected with its position.
TEST(ReadIdxImagesTest, RejectsLabelOutOfRange) {
  const std::string dir = MakeTestDir("idx_label_range");
  const IdxFiles files = WriteIdxImages(dir, PatternedImages(3, 1, 2, 2, 10), Compression::kNone);
  WriteFile(files.labels, IdxFileBytes({3}, {0, 10, 1}));
  EXPECT_THAT(
      ReadIdxImages(files.images, files.labels, 10),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(files.labels + ": label 10 of example 1 is out of range [0, 10)")));
}

// Tests that image and label files of the wrong rank are rejected.
TEST(ReadIdxImagesTest, RejectsWrongDimensions) {
  const std::string dir = MakeTestDir("idx_dimensions");
  const IdxFiles files = WriteIdxImages(dir, PatternedImages(2, 1, 2, 2, 10), Compression::kNone);
  WriteFile(files.images, IdxFileBytes({2, 4}, std::vector<uint8_t>(8)));
  EXPECT_THAT(
      ReadIdxImages(files.images, files.labels, 10),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(files.images +
                         ": expected images of shape (N, rows, columns), found shape (2, 4)")));
  WriteIdxImages(dir, PatternedImages(2, 1, 2, 2, 10), Compression::kNone);
  WriteFile(files.labels, IdxFileBytes({2, 1}, {0, 1}));
  EXPECT_THAT(
      ReadIdxImages(files.images, files.labels, 10),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(files.labels + ": expected labels of shape (N), found shape (2, 1)")));
}

// Tests that files of 0 images read as an empty set of the header's image size.
TEST(ReadIdxImagesTest, ReadsZeroImages) {
  const std::string dir = MakeTestDir("idx_zero_images");
  const IdxFiles files = WriteIdxImages(dir, PatternedImages(0, 1, 28, 28, 10), Compression::kGzip);
  MC_ASSERT_OK_AND_ASSIGN(const LabeledImages read, ReadIdxImages(files.images, files.labels, 10));
  EXPECT_EQ(read.size(), 0);
  EXPECT_EQ(read.image_size(), 28 * 28);
}

// Tests that images whose rows x columns overflow LabeledImages::image_size() are refused
// (with 0 images, the file itself is well formed).
TEST(ReadIdxImagesTest, RejectsImagesTooLargeToIndex) {
  const std::string dir = MakeTestDir("idx_huge_images");
  WriteFile(dir + "/images", IdxFileBytes({0, 4294967295, 4294967295}, {}));
  WriteFile(dir + "/labels", IdxFileBytes({0}, {}));
  EXPECT_THAT(
      ReadIdxImages(dir + "/images", dir + "/labels", 10),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr(dir +
                    "/images: images of 4294967295 x 4294967295 pixels are too large to index")));
}

// Tests that a missing file is a not-found error naming it.
TEST(ReadIdxImagesTest, ReportsMissingFile) {
  const std::string dir = MakeTestDir("idx_missing");
  EXPECT_THAT(ReadIdxImages(dir + "/images", dir + "/labels", 10),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(dir + "/images")));
}

}  // namespace
}  // namespace mc::data
