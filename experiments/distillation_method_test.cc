#include "experiments/distillation_method.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/status_matchers.h"
#include "experiments/method_testutil.h"

namespace mc::experiments {
namespace {

using ::testing::HasSubstr;
using serialization::ExperimentConfig;

// A small run of `method` with the reference's distillation settings at 4 bits in buckets of
// 64, starting from (and distilled from) a trained float LeNet.
ExperimentConfig SmallDistillationRun(const std::string& method) {
  ExperimentConfig config = SmallRun("distillation_method_" + method);
  *config.mutable_distillation() = DistillationDefaults("synthetic").distillation();
  serialization::DistillationConfig& d = *config.mutable_distillation();
  d.set_method(method);
  d.set_bucket_size(64);
  d.set_init_from(TrainedFloatModel());
  if (method != "quantized") d.set_teacher(TrainedFloatModel());
  config.mutable_training()->set_epochs(2);
  config.mutable_training()->set_max_train_batches(5);
  return config;
}

class DistillationMethodTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DistillationMethodTest, ResumedRunMatchesStraightRun) {
  ExperimentConfig config = SmallDistillationRun(GetParam());
  ASSERT_THAT(FinishDistillationConfig(config), IsOk());
  ExpectResumedRunMatchesStraightRun(config, &MakeDistillationTraining);
}

INSTANTIATE_TEST_SUITE_P(Methods, DistillationMethodTest,
                         ::testing::Values("quantized_distillation", "quantized",
                                           "differentiable_quantization"));

TEST(DistillationConfigTest, NamesTheRunAndPlacesTheRegistryBesideTheOutput) {
  ExperimentConfig config = SmallDistillationRun("quantized");
  config.mutable_output()->set_dir("/runs/distill/student");
  ASSERT_THAT(FinishDistillationConfig(config), IsOk());
  EXPECT_EQ(config.distillation().registry(), "/runs/distill/model_registry.mcr");
  EXPECT_EQ(config.distillation().name(), "lenet_quantized_4bit_synthetic");
}

TEST(DistillationConfigTest, NamesTheFieldOutOfRange) {
  ExperimentConfig config = SmallDistillationRun("quantized");
  config.mutable_distillation()->set_distill_weight(1.5);
  EXPECT_THAT(FinishDistillationConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("distillation.distill_weight")));
}

}  // namespace
}  // namespace mc::experiments
