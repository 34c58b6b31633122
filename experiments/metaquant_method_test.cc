#include "experiments/metaquant_method.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/status_matchers.h"
#include "experiments/method_testutil.h"

namespace mc::experiments {
namespace {

using ::testing::HasSubstr;
using serialization::ExperimentConfig;

// A small run of MetaQuant with `meta` ("ste": straight-through) at 1 bit (DoReFa), from a
// trained float LeNet.
ExperimentConfig SmallMetaQuantRun(const std::string& meta) {
  ExperimentConfig config = SmallRun("metaquant_method_" + meta);
  *config.mutable_metaquant() = MetaQuantDefaults("synthetic").metaquant();
  config.mutable_metaquant()->set_meta(meta);
  config.mutable_metaquant()->set_start_from(TrainedFloatModel());
  config.mutable_training()->set_lr(1e-3);
  config.mutable_training()->set_epochs(2);
  config.mutable_training()->set_max_train_batches(5);
  return config;
}

class MetaQuantMethodTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MetaQuantMethodTest, ResumedRunMatchesStraightRun) {
  const ExperimentConfig config = SmallMetaQuantRun(GetParam());
  ASSERT_THAT(ValidateMetaQuantConfig(config), IsOk());
  ExpectResumedRunMatchesStraightRun(config, &MakeMetaQuantTraining);
}

INSTANTIATE_TEST_SUITE_P(MetaNetworks, MetaQuantMethodTest, ::testing::Values("ste", "multifc"));

TEST(MetaQuantConfigTest, NamesTheFieldOutOfRange) {
  ExperimentConfig config = SmallMetaQuantRun("ste");
  config.mutable_metaquant()->set_forward("bwn");
  config.mutable_metaquant()->set_bits(2);
  EXPECT_THAT(ValidateMetaQuantConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metaquant.bits = 2 is out of range: allowed [1, 1] for bwn")));
}

TEST(MetaQuantMethodTest, StartsFromTheFloatModelFile) {
  ExperimentConfig config = SmallMetaQuantRun("ste");
  EXPECT_EQ(*MetaQuantStartingPoint().model_file(config), TrainedFloatModel());
  config.mutable_metaquant()->set_start_from(config.output().dir() + "/missing.mcm");
  EXPECT_THAT(RunExperiment(config, &MakeMetaQuantTraining, QuietRun()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.mcm")));
}

}  // namespace
}  // namespace mc::experiments
