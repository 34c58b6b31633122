#include "serialization/model_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_matchers.h"

namespace mc::serialization {
namespace {

using ::testing::HasSubstr;

CompressedModel SampleModel() {
  CompressedModel model;
  model.set_method("diffq");
  (*model.mutable_method_options())["group_size"] = "8";
  model.mutable_model()->set_name("resnet20");
  model.set_dataset("fashion_mnist");
  CompressedTensor* tensor = model.add_tensors();
  tensor->set_name("conv1.weight");
  tensor->add_shape(16);
  tensor->add_shape(1);
  tensor->add_shape(3);
  tensor->add_shape(3);
  UniformEncoding* uniform = tensor->mutable_uniform();
  uniform->set_group_size(8);
  uniform->set_group_bits(std::string(18, '\x04'));
  uniform->set_levels(std::string(72, '\x5a'));
  (*model.mutable_metrics())["test_accuracy"] = 0.9;
  return model;
}

// Tests that a model's bytes do not depend on the order its map entries were added in (the
// default protobuf serialization follows hash-table order), and that the entries are written
// in key order.
TEST(ModelFileTest, MapEntriesAreWrittenInKeyOrder) {
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) keys.push_back(absl::StrCat("option_", 100 + i));
  CompressedModel ascending = SampleModel();
  CompressedModel descending = SampleModel();
  for (size_t i = 0; i < keys.size(); ++i) {
    (*ascending.mutable_method_options())[keys[i]] = "1";
    (*descending.mutable_method_options())[keys[keys.size() - 1 - i]] = "1";
  }
  const std::string bytes = EncodeModelFile(ascending);
  EXPECT_EQ(bytes, EncodeModelFile(descending));
  size_t previous = 0;
  for (const std::string& key : keys) {
    const size_t position = bytes.find(key);
    ASSERT_NE(position, std::string::npos) << key;
    EXPECT_GT(position, previous) << key << " is written before the keys below it";
    previous = position;
  }
}

// Tests that encode/decode round-trips every field and stamps the format version.
TEST(ModelFileTest, RoundTrip) {
  const CompressedModel model = SampleModel();
  const std::string bytes = EncodeModelFile(model);
  EXPECT_EQ(bytes.substr(0, 8), std::string("MCMODEL\x1a"));
  MC_ASSERT_OK_AND_ASSIGN(const CompressedModel decoded, DecodeModelFile(bytes, "memory"));
  EXPECT_EQ(decoded.format_version(), kModelFileVersion);
  CompressedModel expected = model;
  expected.set_format_version(kModelFileVersion);
  EXPECT_EQ(decoded.SerializeAsString(), expected.SerializeAsString());
}

// Tests that every truncation of the file is rejected as data loss.
TEST(ModelFileTest, RejectsEveryTruncation) {
  const std::string bytes = EncodeModelFile(SampleModel());
  for (size_t length = 0; length < bytes.size(); ++length) {
    ASSERT_THAT(DecodeModelFile(bytes.substr(0, length), "cut"),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("cut")))
        << "a file cut at " << length;
  }
}

// Tests that flipping any single bit anywhere in the file is detected.
TEST(ModelFileTest, RejectsEveryBitFlip) {
  const std::string bytes = EncodeModelFile(SampleModel());
  for (size_t position = 0; position < bytes.size(); ++position) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string corrupt = bytes;
      corrupt[position] = static_cast<char>(corrupt[position] ^ (1 << bit));
      // Bytes 8 to 11 hold the format version: a flip there names an unsupported version.
      const absl::StatusCode code = position >= 8 && position < 12
                                        ? absl::StatusCode::kFailedPrecondition
                                        : absl::StatusCode::kDataLoss;
      ASSERT_THAT(DecodeModelFile(corrupt, "flipped"), StatusIs(code, HasSubstr("flipped")))
          << "a flip of bit " << bit << " of byte " << position;
    }
  }
}

// Tests the specific messages for a payload bit flip and a foreign file.
TEST(ModelFileTest, NamesTheProblem) {
  std::string bytes = EncodeModelFile(SampleModel());
  std::string corrupt = bytes;
  corrupt[kModelFileHeaderBytes + 3] ^= 0x10;
  EXPECT_THAT(DecodeModelFile(corrupt, "m"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("CRC-32")));
  EXPECT_THAT(DecodeModelFile("PK\x03\x04 not a model file at all", "z.zip"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("bad magic")));
  std::string newer = bytes;
  newer[8] = 2;
  EXPECT_THAT(DecodeModelFile(newer, "m"), StatusIs(absl::StatusCode::kFailedPrecondition));
}

// Tests that files round-trip through disk and a missing file is kNotFound.
TEST(ModelFileTest, WritesAndReadsFiles) {
  const std::string dir = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  const std::string path = dir + "/model.mcm";
  ASSERT_THAT(WriteModelFile(path, SampleModel()), IsOk());
  MC_ASSERT_OK_AND_ASSIGN(const CompressedModel read, ReadModelFile(path));
  EXPECT_EQ(read.tensors(0).uniform().levels(), std::string(72, '\x5a'));
  EXPECT_THAT(ReadModelFile(dir + "/absent.mcm"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace mc::serialization
