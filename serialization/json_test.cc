#include "serialization/json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"
#include "serialization/summary.pb.h"

namespace mc::serialization {
namespace {

using ::testing::HasSubstr;

// Tests that JSON uses the proto's snake_case names and prints zero-valued fields.
TEST(JsonTest, SnakeCaseNamesAndZeros) {
  ExperimentSummary summary;
  summary.set_test_accuracy(0.875);
  summary.set_model_file("/out/model.mcm");
  const std::string json = ToJsonLine(summary);
  EXPECT_THAT(json, HasSubstr("\"test_accuracy\":0.875"));
  EXPECT_THAT(json, HasSubstr("\"model_file\":\"/out/model.mcm\""));
  EXPECT_THAT(json, HasSubstr("\"epochs\":0"));
  EXPECT_EQ(json.find('\n'), std::string::npos);
}

// Tests that printed JSON parses back to the same message and bad JSON names its source.
TEST(JsonTest, ParsesBack) {
  EpochMetrics metrics;
  metrics.set_epoch(3);
  metrics.set_train_loss(0.25);
  (*metrics.mutable_extra())["mean_bits"] = 3.5;
  EpochMetrics parsed;
  ASSERT_THAT(ParseJson(ToJsonLine(metrics), "line", parsed), IsOk());
  EXPECT_EQ(parsed.SerializeAsString(), metrics.SerializeAsString());
  EXPECT_THAT(ParseJson("{\"epoch\": \"x\"", "metrics.jsonl:4", parsed),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metrics.jsonl:4")));
}

}  // namespace
}  // namespace mc::serialization
