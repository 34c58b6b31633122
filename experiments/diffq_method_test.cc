#include "experiments/diffq_method.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/status_matchers.h"
#include "experiments/method_testutil.h"

namespace mc::experiments {
namespace {

using ::testing::HasSubstr;
using serialization::ExperimentConfig;

// A small run of `method` with DiffQ's defaults, every parameter quantized.
ExperimentConfig SmallQuantizedRun(const std::string& method) {
  ExperimentConfig config = SmallRun("diffq_method_" + method);
  *config.mutable_quantization() = DiffqDefaults("synthetic").quantization();
  config.mutable_quantization()->set_method(method);
  config.mutable_quantization()->set_min_size(0);
  config.mutable_training()->set_epochs(2);
  config.mutable_training()->set_max_train_batches(5);
  return config;
}

class DiffqMethodTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DiffqMethodTest, ResumedRunMatchesStraightRun) {
  const ExperimentConfig config = SmallQuantizedRun(GetParam());
  ASSERT_THAT(ValidateQuantizationConfig(config), IsOk());
  ExpectResumedRunMatchesStraightRun(config, &MakeQuantizationTraining);
}

INSTANTIATE_TEST_SUITE_P(Methods, DiffqMethodTest, ::testing::Values("diffq", "qat", "lsq"));

// Tests that quantized training starts from quantization.start_from's weights: with a
// learning rate too small to learn, 8-bit QAT from the trained LeNet scores as it does, far
// above the chance level a fresh model stays at; and that a missing file is named.
TEST(DiffqMethodTest, StartsFromTheFloatModelFile) {
  ExperimentConfig config = SmallQuantizedRun("qat");
  config.mutable_quantization()->set_bits(8);
  config.mutable_quantization()->set_start_from(TrainedFloatModel());
  config.mutable_training()->set_epochs(1);
  config.mutable_training()->set_max_train_batches(1);
  config.mutable_training()->set_lr(1e-9);
  MC_ASSERT_OK_AND_ASSIGN(const serialization::ExperimentSummary summary,
                          RunExperiment(config, &MakeQuantizationTraining, QuietRun()));
  EXPECT_GT(summary.test_accuracy(), 0.5);

  config.mutable_quantization()->set_start_from(config.output().dir() + "/missing.mcm");
  config.mutable_output()->set_dir(config.output().dir() + "_missing");
  EXPECT_THAT(RunExperiment(config, &MakeQuantizationTraining, QuietRun()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.mcm")));
}

TEST(DiffqMethodValidationTest, NamesTheFieldOutOfRange) {
  ExperimentConfig config = SmallQuantizedRun("qat");
  config.mutable_quantization()->set_bits(16);
  EXPECT_THAT(ValidateQuantizationConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("quantization.bits = 16")));
  config = SmallQuantizedRun("diffq");
  config.mutable_quantization()->set_noise("laplace");
  EXPECT_THAT(ValidateQuantizationConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("quantization.noise")));
}

}  // namespace
}  // namespace mc::experiments
