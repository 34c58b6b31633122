#include "experiments/vq_method.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"
#include "experiments/method_testutil.h"

namespace mc::experiments {
namespace {

using ::testing::HasSubstr;
using serialization::ExperimentConfig;

// A small run of product quantization of a trained float LeNet (5x5 convolutions: blocks of
// 5): 16 centroids per layer, a few k-means iterations and fine-tuning steps.
ExperimentConfig SmallVqRun() {
  ExperimentConfig config = SmallRun("vq_method");
  *config.mutable_vq() = VqDefaults("synthetic").vq();
  serialization::VqConfig& v = *config.mutable_vq();
  v.set_teacher(TrainedFloatModel());
  v.set_block_size_cv(5);
  v.set_n_centroids_cv(16);
  v.set_n_centroids_fc(16);
  v.set_n_iter(3);
  v.set_n_activations(64);
  v.set_activation_rows(256);
  v.set_finetune_steps(2);
  v.set_global_finetune_steps(5);
  config.mutable_training()->set_lr(0.01);
  config.mutable_training()->set_epochs(2);
  return config;
}

TEST(VqMethodTest, ResumedRunMatchesStraightRun) {
  ExperimentConfig config = SmallVqRun();
  ASSERT_THAT(ValidateVqConfig(config), IsOk());
  LimitGlobalFinetuneSteps(config);
  ExpectResumedRunMatchesStraightRun(config, &MakeVqTraining);
}

TEST(VqMethodTest, GlobalFinetuneStepsLimitTheEpochs) {
  ExperimentConfig config = SmallVqRun();  // 20 batches per epoch
  LimitGlobalFinetuneSteps(config);
  EXPECT_EQ(config.training().max_train_batches(), 5);
  config.mutable_training()->set_max_train_batches(3);
  LimitGlobalFinetuneSteps(config);
  EXPECT_EQ(config.training().max_train_batches(), 3);
  config.mutable_vq()->set_global_finetune_steps(0);
  config.mutable_training()->set_max_train_batches(0);
  LimitGlobalFinetuneSteps(config);
  EXPECT_EQ(config.training().max_train_batches(), 0);
}

TEST(VqConfigTest, NamesTheFieldOutOfRange) {
  ExperimentConfig config = SmallVqRun();
  config.mutable_vq()->set_global_finetune_steps(-1);
  EXPECT_THAT(ValidateVqConfig(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                                 HasSubstr("vq.global_finetune_steps")));
  config = SmallVqRun();
  config.mutable_vq()->set_block_size_fc(0);
  EXPECT_THAT(ValidateVqConfig(config), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace mc::experiments
