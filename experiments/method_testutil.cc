#include "experiments/method_testutil.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "common/status_matchers.h"
#include "experiments/experiment_main.h"
#include "experiments/testutil.h"

namespace mc::experiments {

using serialization::ExperimentConfig;

ExperimentConfig SmallRun(const std::string& name) {
  ExperimentConfig config;
  config.set_experiment("runner_test");
  config.mutable_data()->set_dataset("synthetic");
  config.mutable_data()->set_augment(true);
  config.mutable_data()->set_workers(2);
  config.mutable_model()->set_name("lenet");
  auto* training = config.mutable_training();
  training->set_epochs(3);
  training->set_batch_size(32);
  training->set_eval_batch_size(250);
  training->set_optimizer(serialization::TrainingConfig::SGD);
  training->set_lr(0.05);
  training->set_momentum(0.9);
  training->set_weight_decay(5e-4);
  training->set_lr_schedule(serialization::TrainingConfig::COSINE);
  training->set_seed(7);
  training->set_threads(1);
  training->set_max_train_batches(20);
  config.mutable_output()->set_dir(std::string(std::getenv("TEST_TMPDIR")) + "/" + name);
  return config;
}

RunOptions QuietRun(bool resume) {
  static std::ostringstream sink;
  RunOptions options;
  options.log = &sink;
  options.resume = resume;
  return options;
}

const std::string& TrainedFloatModel() {
  static const std::string* const path = [] {
    const ExperimentConfig config = SmallRun("float_model");
    EXPECT_THAT(RunExperiment(config, &MakeFloatTraining, QuietRun()), IsOk());
    return new std::string(config.output().dir() + "/model.mcm");
  }();
  return *path;
}

void ExpectResumedRunMatchesStraightRun(const ExperimentConfig& config,
                                        const MethodFactory& factory) {
  ExperimentConfig straight = config;
  straight.mutable_output()->set_dir(config.output().dir() + "/straight");
  ASSERT_THAT(RunExperiment(straight, factory, QuietRun()), IsOk());

  ExperimentConfig resumed = config;
  resumed.mutable_output()->set_dir(config.output().dir() + "/resumed");
  RunOptions stop = QuietRun();
  stop.stop_after_epochs = 1;
  ASSERT_THAT(RunExperiment(resumed, factory, stop),
              StatusIs(absl::StatusCode::kAborted, ::testing::HasSubstr("after epoch 1")));
  ASSERT_THAT(RunExperiment(resumed, factory, QuietRun(/*resume=*/true)), IsOk());

  ExpectSameModelTensors(straight.output().dir() + "/model.mcm",
                         resumed.output().dir() + "/model.mcm");
}

}  // namespace mc::experiments
