#include "experiments/runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/strings/str_split.h"
#include "common/status_matchers.h"
#include "experiments/float_training.h"
#include "serialization/atomic_file.h"
#include "serialization/json.h"
#include "serialization/model_file.h"

namespace mc::experiments {
namespace {

using ::testing::HasSubstr;
using serialization::ExperimentConfig;
using serialization::ExperimentSummary;

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

absl::StatusOr<std::unique_ptr<TrainingMethod>> Float(const MethodContext& context) {
  return std::make_unique<FloatTraining>(context.model, context.config.training());
}

RunOptions Quiet() {
  static std::ostringstream sink;
  RunOptions options;
  options.log = &sink;
  return options;
}

// Tests that a run writes every output and that the summary describes the written model.
TEST(RunnerTest, WritesModelMetricsAndSummary) {
  const ExperimentConfig config = SmallRun("complete");
  absl::StatusOr<ExperimentSummary> summary = RunExperiment(config, &Float, Quiet());
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->method(), "float");
  EXPECT_EQ(summary->dataset(), "synthetic");
  EXPECT_EQ(summary->epochs(), 3);
  EXPECT_GT(summary->test_accuracy(), 0.5);  // the synthetic set is learnable; chance is 0.1
  EXPECT_EQ(summary->float_test_accuracy(), summary->test_accuracy());
  EXPECT_DOUBLE_EQ(summary->model_size_mb(), summary->float_model_size_mb());
  EXPECT_FALSE(summary->layers().empty());

  const std::string& dir = config.output().dir();
  absl::StatusOr<serialization::CompressedModel> model = serialization::ReadModelFile(dir + "/model.mcm");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->method(), "float");
  EXPECT_EQ(model->model().name(), "lenet");
  EXPECT_EQ(model->model().in_channels(), 3);

  absl::StatusOr<std::string> metrics = serialization::ReadFileToString(dir + "/metrics.jsonl");
  ASSERT_TRUE(metrics.ok());
  const std::vector<std::string> lines = absl::StrSplit(*metrics, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  serialization::EpochMetrics last;
  ASSERT_TRUE(serialization::ParseJson(lines[2], "metrics", last).ok());
  EXPECT_EQ(last.epoch(), 3);
  EXPECT_DOUBLE_EQ(last.test_accuracy(), summary->test_accuracy());

  absl::StatusOr<std::string> json = serialization::ReadFileToString(dir + "/summary.json");
  ASSERT_TRUE(json.ok());
  ExperimentSummary parsed;
  ASSERT_TRUE(serialization::ParseJson(*json, "summary.json", parsed).ok());
  EXPECT_EQ(parsed.model_file(), dir + "/model.mcm");
  EXPECT_EQ(parsed.config().training().seed(), 7u);
}

// Tests that a run stopped after one epoch and resumed ends with exactly the weights of an
// uninterrupted run with the same seed.
TEST(RunnerTest, ResumedRunMatchesUninterruptedRun) {
  const ExperimentConfig straight = SmallRun("straight");
  ASSERT_TRUE(RunExperiment(straight, &Float, Quiet()).ok());

  const ExperimentConfig split = SmallRun("split");
  RunOptions stop = Quiet();
  stop.stop_after_epochs = 1;
  EXPECT_THAT(RunExperiment(split, &Float, stop),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("after epoch 1")));
  RunOptions resume = Quiet();
  resume.resume = true;
  absl::StatusOr<ExperimentSummary> resumed = RunExperiment(split, &Float, resume);
  ASSERT_TRUE(resumed.ok()) << resumed.status();

  absl::StatusOr<serialization::CompressedModel> a =
      serialization::ReadModelFile(straight.output().dir() + "/model.mcm");
  absl::StatusOr<serialization::CompressedModel> b =
      serialization::ReadModelFile(split.output().dir() + "/model.mcm");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->tensors_size(), b->tensors_size());
  for (int i = 0; i < a->tensors_size(); ++i) {
    EXPECT_EQ(a->tensors(i).name(), b->tensors(i).name());
    EXPECT_EQ(a->tensors(i).passthrough().data(), b->tensors(i).passthrough().data())
        << "tensor " << a->tensors(i).name() << " differs after resume";
  }
  absl::StatusOr<std::string> metrics =
      serialization::ReadFileToString(split.output().dir() + "/metrics.jsonl");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(*metrics, '\n', absl::SkipEmpty())).size(), 3u);
}

// Tests that resuming with another configuration is refused and names the problem.
TEST(RunnerTest, ResumeRefusesAnotherConfig) {
  ExperimentConfig config = SmallRun("changed");
  RunOptions stop = Quiet();
  stop.stop_after_epochs = 1;
  ASSERT_FALSE(RunExperiment(config, &Float, stop).ok());
  config.mutable_training()->set_lr(0.2);
  RunOptions resume = Quiet();
  resume.resume = true;
  EXPECT_THAT(RunExperiment(config, &Float, resume),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("another configuration")));
}

// Tests that a missing data set and an unknown model are reported, not crashed on.
// Tests that threads = 0 means one intra-op thread per hardware thread, not LibTorch's
// own default, and that an explicit count is kept.
TEST(RunnerTest, IntraOpThreadsDefaultToTheHardwareThreads) {
  serialization::TrainingConfig training;
  training.set_threads(0);
  EXPECT_EQ(IntraOpThreads(training), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  training.set_threads(3);
  EXPECT_EQ(IntraOpThreads(training), 3);
}

TEST(RunnerTest, ReportsBadDataAndModel) {
  ExperimentConfig config = SmallRun("bad_model");
  config.mutable_model()->set_name("resnet1000");
  EXPECT_THAT(RunExperiment(config, &Float, Quiet()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("resnet1000")));
  config = SmallRun("bad_data");
  config.mutable_data()->set_dataset("cifar10");
  config.mutable_data()->set_data_dir(std::string(std::getenv("TEST_TMPDIR")) + "/no_cifar");
  EXPECT_THAT(RunExperiment(config, &Float, Quiet()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("data_batch_1.bin")));
}

}  // namespace
}  // namespace mc::experiments
