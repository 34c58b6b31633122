#include "serialization/experiment_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "common/status_matchers.h"

namespace mc::serialization {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr char kValid[] = R"pb(
  experiment: "cifar_baseline"
  data { dataset: "fashion_mnist" workers: 2 }
  model { name: "resnet20" }
  training {
    epochs: 1 batch_size: 128 eval_batch_size: 500 optimizer: SGD lr: 0.1 momentum: 0.9
    nesterov: true weight_decay: 5e-4 lr_schedule: COSINE seed: 1
  }
  output { dir: "/tmp/out" }
)pb";

ExperimentConfig Valid() {
  ExperimentConfig config;
  EXPECT_THAT(MergeExperimentConfigText(kValid, "valid", config), IsOk());
  return config;
}

std::string ValidationMessage(const ExperimentConfig& config) {
  const absl::Status status = ValidateExperimentConfig(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

// Tests that a complete configuration parses and validates.
TEST(ExperimentConfigTest, AcceptsValidConfig) {
  const ExperimentConfig config = Valid();
  EXPECT_EQ(config.training().lr_schedule(), TrainingConfig::COSINE);
  EXPECT_THAT(ValidateExperimentConfig(config), IsOk());
}

// Tests that an unknown field is rejected with its name, the source and the line.
TEST(ExperimentConfigTest, RejectsUnknownField) {
  ExperimentConfig config;
  EXPECT_THAT(
      MergeExperimentConfigText("training {\n  learning_rate: 0.1\n}\n", "my.textproto", config),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("learning_rate"), HasSubstr("my.textproto"), HasSubstr("line 2"))));
}

// Tests that a malformed value (a string for a number, an unknown enum) is rejected.
TEST(ExperimentConfigTest, RejectsMalformedValues) {
  ExperimentConfig config;
  EXPECT_THAT(
      MergeExperimentConfigText("training { epochs: \"ten\" }", "x", config),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid experiment config x")));
  EXPECT_THAT(MergeExperimentConfigText("training { optimizer: RMSPROP }", "x", config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("RMSPROP")));
}

// Tests that out-of-range values name the field and the allowed range.
TEST(ExperimentConfigTest, RejectsOutOfRangeValues) {
  ExperimentConfig config = Valid();
  config.mutable_training()->set_lr(-0.1);
  EXPECT_THAT(ValidationMessage(config), HasSubstr("training.lr = -0.1 is out of range: allowed (0, 100]"));

  config = Valid();
  config.mutable_training()->set_batch_size(0);
  EXPECT_THAT(ValidationMessage(config), HasSubstr("training.batch_size"));

  config = Valid();
  config.mutable_training()->set_momentum(1.0);
  EXPECT_THAT(ValidationMessage(config), HasSubstr("training.momentum"));

  config = Valid();
  config.mutable_training()->set_warmup_epochs(-1);
  EXPECT_THAT(ValidationMessage(config), HasSubstr("training.warmup_epochs = -1 is out of range: allowed [0, 1000]"));

  config = Valid();
  config.mutable_data()->clear_dataset();
  EXPECT_THAT(ValidationMessage(config), HasSubstr("data.dataset is empty"));

  config = Valid();
  config.mutable_training()->set_lr_schedule(TrainingConfig::STEP);
  EXPECT_THAT(ValidationMessage(config), HasSubstr("training.lr_step_epochs"));

  config = Valid();
  config.mutable_training()->set_optimizer(TrainingConfig::ADAM);
  EXPECT_THAT(ValidationMessage(config), HasSubstr("nesterov"));

  config = Valid();
  config.mutable_output()->clear_dir();
  EXPECT_THAT(ValidationMessage(config), HasSubstr("output.dir"));
}

// Tests that a data-parallel section is checked: rank below world_size, a port, and a global
// batch that splits evenly between the ranks.
TEST(ExperimentConfigTest, ValidatesDistributedSection) {
  ExperimentConfig config = Valid();
  DistributedConfig& distributed = *config.mutable_distributed();
  distributed.set_world_size(2);
  distributed.set_rank(1);
  distributed.set_master_addr("10.0.0.1");
  distributed.set_master_port(29500);
  distributed.set_timeout_seconds(600);
  EXPECT_THAT(ValidateExperimentConfig(config), IsOk());

  ExperimentConfig bad = config;
  bad.mutable_distributed()->set_rank(2);
  EXPECT_THAT(ValidationMessage(bad), HasSubstr("distributed.rank = 2 is out of range: allowed [0, 1]"));
  bad = config;
  bad.mutable_distributed()->set_master_port(65536);
  EXPECT_THAT(ValidationMessage(bad), HasSubstr("distributed.master_port = 65536"));
  bad = config;
  bad.mutable_distributed()->set_world_size(0);
  EXPECT_THAT(ValidationMessage(bad), HasSubstr("distributed.world_size = 0"));
  bad = config;
  bad.mutable_distributed()->clear_master_addr();
  EXPECT_THAT(ValidationMessage(bad), HasSubstr("distributed.master_addr is empty"));
  bad = config;
  bad.mutable_distributed()->set_world_size(3);
  EXPECT_THAT(ValidationMessage(bad),
              HasSubstr("training.batch_size = 128 is not a multiple of distributed.world_size = 3"));
}

// Tests that a file merges over existing values and a missing file is kNotFound.
TEST(ExperimentConfigTest, MergesFilesOverDefaults) {
  ExperimentConfig config = Valid();
  EXPECT_THAT(MergeExperimentConfigFile("/no/such/config.textproto", config),
              StatusIs(absl::StatusCode::kNotFound));
  const std::string text = ExperimentConfigToText(config);
  ExperimentConfig reparsed;
  ASSERT_THAT(MergeExperimentConfigText(text, "printed", reparsed), IsOk());
  EXPECT_EQ(reparsed.SerializeAsString(), config.SerializeAsString());
}

// Tests the one range check: open and closed ends, unbounded ranges, integers printed whole,
// NaN refused.
TEST(CheckRangeTest, NamesTheFieldTheValueAndTheAllowedRange) {
  EXPECT_THAT(CheckRange("x", 0, Range::RightOpen(0, 1)), IsOk());
  EXPECT_THAT(CheckRange("x", 1, Range::RightOpen(0, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, "x = 1 is out of range: allowed [0, 1)"));
  EXPECT_THAT(CheckRange("x", 0, Range::Above(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, "x = 0 is out of range: allowed > 0"));
  EXPECT_THAT(CheckRange("x", -0.5, Range::AtLeast(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, "x = -0.5 is out of range: allowed >= 0"));
  EXPECT_THAT(CheckRange("x", 2e9, Range::Closed(0, 1 << 30)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "x = 2000000000 is out of range: allowed [0, 1073741824]"));
  EXPECT_THAT(CheckRange("x", std::nan(""), Range::AtLeast(0)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CheckChoiceTest, ListsTheChoices) {
  EXPECT_THAT(CheckChoice("q.noise", "uniform", {"gaussian", "uniform"}), IsOk());
  EXPECT_THAT(CheckChoice("q.noise", "laplace", {"gaussian", "uniform"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "q.noise = \"laplace\" is not one of gaussian, uniform"));
}

}  // namespace
}  // namespace mc::serialization
