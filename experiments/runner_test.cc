#include "experiments/runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "experiments/float_training.h"
#include "experiments/method_testutil.h"
#include "experiments/quantized_training.h"
#include "experiments/testutil.h"
#include "quant/diffq.h"
#include "serialization/atomic_file.h"
#include "serialization/event_writer.h"
#include "serialization/json.h"
#include "serialization/model_file.h"
#include "serialization/testutil.h"

namespace mc::experiments {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatEq;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pointwise;
using serialization::EpochMetrics;
using serialization::ExperimentConfig;
using serialization::ExperimentSummary;
using serialization::tensorboard::Event;
using serialization::tensorboard::HistogramProto;
using serialization::tensorboard::Summary;

absl::StatusOr<std::unique_ptr<TrainingMethod>> Float(const MethodContext& context) {
  return std::make_unique<FloatTraining>(context.model, context.config.training());
}

// DiffQ with its bits trained by the model's optimizer, every parameter quantized. The
// widths start half-way between 4 and 5 bits, so that the stored (rounded) widths of the
// groups, and the mean bits of the layers, differ as soon as training moves them.
absl::StatusOr<std::unique_ptr<TrainingMethod>> DiffQ(const MethodContext& context) {
  return std::make_unique<QuantizedTraining>(
      "diffq", context.model, context.config.training(), /*penalty=*/1,
      [](std::shared_ptr<torch::nn::Module> model, torch::optim::Optimizer* optimizer) {
        auto quantizer = std::make_unique<quant::DiffQuantizer>(
            std::move(model),
            quant::DiffQuantizerOptions().min_size(0).group_size(8).init_bits(4.5));
        if (optimizer != nullptr) {
          quantizer->setup_optimizer(*optimizer, /*lr=*/0.05);
        } else {
          quantizer->no_optimizer();
        }
        QuantizerSetup setup;
        setup.quantizer = std::move(quantizer);
        return setup;
      });
}

// The model file of an uninterrupted SmallRun, trained once for every test that needs it.
const std::string& UninterruptedModelFile() {
  static const std::string* const path = [] {
    const ExperimentConfig config = SmallRun("uninterrupted");
    const absl::StatusOr<ExperimentSummary> summary = RunExperiment(config, &Float, QuietRun());
    EXPECT_TRUE(summary.ok()) << summary.status();
    return new std::string(config.output().dir() + "/model.mcm");
  }();
  return *path;
}

bool Exists(const std::string& path) { return serialization::ReadFileToString(path).ok(); }

// Runs `config` with Float training, stopped after its first epoch; returns the bytes of the
// checkpoint that epoch wrote.
absl::StatusOr<std::string> CheckpointOfFirstEpoch(const ExperimentConfig& config) {
  RunOptions stop = QuietRun();
  stop.stop_after_epochs = 1;
  const absl::Status stopped = RunExperiment(config, &Float, stop).status();
  if (stopped.code() != absl::StatusCode::kAborted) {
    return absl::InternalError(
        absl::StrCat("expected a stop after epoch 1, got ", stopped.ToString()));
  }
  return serialization::ReadFileToString(config.output().dir() + "/checkpoint.pt");
}

// Float training whose loss becomes `loss` at training step `diverging_step` (counted from
// 0 over the run), as when training diverges.
class DivergingTraining : public FloatTraining {
 public:
  DivergingTraining(const MethodContext& context, int64_t diverging_step, double loss)
      : FloatTraining(context.model, context.config.training()),
        diverging_step_(diverging_step),
        loss_(loss) {}

  StepResult TrainStep(const at::Tensor& images, const at::Tensor& labels) override {
    StepResult result = FloatTraining::TrainStep(images, labels);
    if (step_++ == diverging_step_) result.loss = torch::full({}, loss_);
    return result;
  }

 private:
  const int64_t diverging_step_;
  const double loss_;
  int64_t step_ = 0;
};

MethodFactory Diverging(int64_t diverging_step, double loss) {
  return [=](const MethodContext& context) -> absl::StatusOr<std::unique_ptr<TrainingMethod>> {
    return std::make_unique<DivergingTraining>(context, diverging_step, loss);
  };
}

// Float training that records the progress the runner reports before each step.
class ProgressRecordingTraining : public FloatTraining {
 public:
  ProgressRecordingTraining(const MethodContext& context, std::vector<double>* progress)
      : FloatTraining(context.model, context.config.training()), progress_(progress) {}

  void SetTrainingProgress(double progress) override { progress_->push_back(progress); }

 private:
  std::vector<double>* progress_;
};

absl::StatusOr<std::vector<EpochMetrics>> ReadMetrics(const std::string& dir) {
  MC_ASSIGN_OR_RETURN(const std::string text,
                      serialization::ReadFileToString(dir + "/metrics.jsonl"));
  std::vector<EpochMetrics> epochs;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    MC_RETURN_IF_ERROR(serialization::ParseJson(line, "metrics.jsonl", epochs.emplace_back()));
  }
  return epochs;
}

// The events of each events file of `dir`, in file order.
absl::StatusOr<std::vector<std::vector<Event>>> ReadEventFiles(const std::string& dir) {
  MC_ASSIGN_OR_RETURN(const std::vector<std::string> paths, serialization::ListEventFiles(dir));
  std::vector<std::vector<Event>> files;
  for (const std::string& path : paths) {
    MC_ASSIGN_OR_RETURN(std::vector<Event> events, serialization::ReadEventFile(path));
    files.push_back(std::move(events));
  }
  return files;
}

// Every value tagged `tag` in `events`, in order, with the step of its event.
std::vector<std::pair<int64_t, Summary::Value>> Find(const std::vector<Event>& events,
                                                     const std::string& tag) {
  std::vector<std::pair<int64_t, Summary::Value>> found;
  for (const Event& event : events) {
    for (const Summary::Value& value : event.summary().value()) {
      if (value.tag() == tag) found.emplace_back(event.step(), value);
    }
  }
  return found;
}

std::vector<int64_t> Steps(const std::vector<std::pair<int64_t, Summary::Value>>& found) {
  std::vector<int64_t> steps;
  for (const auto& [step, value] : found) steps.push_back(step);
  return steps;
}

std::vector<float> Scalars(const std::vector<std::pair<int64_t, Summary::Value>>& found) {
  std::vector<float> scalars;
  for (const auto& [step, value] : found) scalars.push_back(value.simple_value());
  return scalars;
}

// `field` of every epoch, as the float32 that TensorBoard stores.
std::vector<float> Column(const std::vector<EpochMetrics>& epochs,
                          const std::function<double(const EpochMetrics&)>& field) {
  std::vector<float> column;
  for (const EpochMetrics& epoch : epochs) column.push_back(static_cast<float>(field(epoch)));
  return column;
}

// Tests that a run writes every output and that the summary describes the written model.
TEST(RunnerTest, WritesModelMetricsAndSummary) {
  const ExperimentConfig config = SmallRun("complete");
  absl::StatusOr<ExperimentSummary> summary = RunExperiment(config, &Float, QuietRun());
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
  // The file records the accuracy it was measured at (run_model reports it beside its own).
  EXPECT_EQ(model->metrics().at("test_accuracy"), summary->test_accuracy());
  EXPECT_EQ(static_cast<double>(std::filesystem::file_size(dir + "/model.mcm")),
            static_cast<double>(summary->compressed_file_bytes()));

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
// uninterrupted run with the same seed, and that its wall time counts both processes.
TEST(RunnerTest, ResumedRunMatchesUninterruptedRun) {
  const ExperimentConfig straight = SmallRun("straight");
  ASSERT_TRUE(RunExperiment(straight, &Float, QuietRun()).ok());

  const ExperimentConfig split = SmallRun("split");
  RunOptions stop = QuietRun();
  stop.stop_after_epochs = 1;
  const auto seconds_of = [](const std::function<void()>& run) {
    const auto start = std::chrono::steady_clock::now();
    run();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const double first_seconds = seconds_of([&] {
    EXPECT_THAT(RunExperiment(split, &Float, stop),
                StatusIs(absl::StatusCode::kAborted, HasSubstr("after epoch 1")));
  });
  RunOptions resume = QuietRun();
  resume.resume = true;
  absl::StatusOr<ExperimentSummary> resumed;
  const double second_seconds = seconds_of([&] { resumed = RunExperiment(split, &Float, resume); });
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  // The first process's epoch, up to its checkpoint, is part of the run's wall time.
  EXPECT_GT(resumed->wall_seconds(), second_seconds);
  EXPECT_LE(resumed->wall_seconds(), first_seconds + second_seconds);

  ExpectSameModelTensors(straight.output().dir() + "/model.mcm", split.output().dir() + "/model.mcm");
  absl::StatusOr<std::string> metrics =
      serialization::ReadFileToString(split.output().dir() + "/metrics.jsonl");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(*metrics, '\n', absl::SkipEmpty())).size(), 3u);

  // A new events file for the resumed run; the two hold the uninterrupted run's curve.
  MC_ASSERT_OK_AND_ASSIGN(const auto straight_files, ReadEventFiles(straight.output().dir()));
  MC_ASSERT_OK_AND_ASSIGN(const auto split_files, ReadEventFiles(split.output().dir()));
  ASSERT_EQ(straight_files.size(), 1u);
  ASSERT_EQ(split_files.size(), 2u);
  EXPECT_EQ(split_files[1].front().file_version(), "brain.Event:2");
  const auto before_stop = Find(split_files[0], "train/loss");
  const auto after_resume = Find(split_files[1], "train/loss");
  EXPECT_THAT(Steps(before_stop), ElementsAre(20));
  EXPECT_THAT(Steps(after_resume), ElementsAre(40, 60));
  std::vector<float> resumed_curve = Scalars(before_stop);
  for (const float loss : Scalars(after_resume)) resumed_curve.push_back(loss);
  EXPECT_THAT(resumed_curve, Pointwise(FloatEq(), Scalars(Find(straight_files[0], "train/loss"))));
}

// Tests that the events file holds every value of metrics.jsonl once per epoch, at the
// epoch's last global step (20 steps per epoch), and the means of every 10 training steps.
TEST(RunnerTest, LogsMetricsAsTensorBoardEvents) {
  const ExperimentConfig config = SmallRun("events");
  ASSERT_THAT(RunExperiment(config, &Float, QuietRun()), IsOk());
  MC_ASSERT_OK_AND_ASSIGN(const std::vector<EpochMetrics> epochs,
                          ReadMetrics(config.output().dir()));
  MC_ASSERT_OK_AND_ASSIGN(const auto files, ReadEventFiles(config.output().dir()));
  ASSERT_EQ(epochs.size(), 3u);
  ASSERT_EQ(files.size(), 1u);
  const std::vector<Event>& events = files[0];
  EXPECT_EQ(events.front().file_version(), "brain.Event:2");

  const std::vector<std::pair<std::string, std::function<double(const EpochMetrics&)>>> fields = {
      {"train/loss", &EpochMetrics::train_loss},
      {"train/accuracy", &EpochMetrics::train_accuracy},
      {"test/loss", &EpochMetrics::test_loss},
      {"test/accuracy", &EpochMetrics::test_accuracy},
      {"lr", &EpochMetrics::lr},
      {"images_per_second", &EpochMetrics::images_per_second},
      {"epoch_seconds", &EpochMetrics::epoch_seconds},
  };
  for (const auto& [tag, field] : fields) {
    const auto found = Find(events, tag);
    EXPECT_THAT(Steps(found), ElementsAre(20, 40, 60)) << tag;
    EXPECT_THAT(Scalars(found), Pointwise(FloatEq(), Column(epochs, field))) << tag;
  }

  // All batches hold 32 images, so an epoch's mean is the mean of its two 10-step windows.
  const auto step_loss = Find(events, "train/step_loss");
  const auto step_accuracy = Find(events, "train/step_accuracy");
  EXPECT_THAT(Steps(step_loss), ElementsAre(10, 20, 30, 40, 50, 60));
  EXPECT_THAT(Steps(step_accuracy), ElementsAre(10, 20, 30, 40, 50, 60));
  ASSERT_EQ(step_loss.size(), 6u);
  ASSERT_EQ(step_accuracy.size(), 6u);
  constexpr double kFloatTolerance = 1e-6;
  const std::vector<float> losses = Scalars(step_loss);
  const std::vector<float> accuracies = Scalars(step_accuracy);
  for (int epoch = 0; epoch < 3; ++epoch) {
    EXPECT_NEAR((losses[2 * epoch] + losses[2 * epoch + 1]) / 2.0, epochs[epoch].train_loss(),
                kFloatTolerance * epochs[epoch].train_loss());
    EXPECT_NEAR((accuracies[2 * epoch] + accuracies[2 * epoch + 1]) / 2.0,
                epochs[epoch].train_accuracy(), kFloatTolerance);
  }
}

// Tests that a DiffQ run logs its size and mean bits as in metrics.jsonl, and after every
// epoch a histogram of the bits of its quantized layers, the last one matching the summary.
TEST(RunnerTest, DiffQLogsSizeMeanBitsAndBitsPerLayer) {
  ExperimentConfig config = SmallRun("diffq_events");
  config.mutable_training()->set_epochs(2);
  MC_ASSERT_OK_AND_ASSIGN(const ExperimentSummary summary, RunExperiment(config, &DiffQ, QuietRun()));
  MC_ASSERT_OK_AND_ASSIGN(const std::vector<EpochMetrics> epochs,
                          ReadMetrics(config.output().dir()));
  MC_ASSERT_OK_AND_ASSIGN(const auto files, ReadEventFiles(config.output().dir()));
  ASSERT_EQ(files.size(), 1u);
  const std::vector<Event>& events = files[0];

  const auto size = Find(events, "model_size_mb");
  const auto mean_bits = Find(events, "diffq/mean_bits");
  EXPECT_THAT(Steps(size), ElementsAre(20, 40));
  EXPECT_THAT(Steps(mean_bits), ElementsAre(20, 40));
  const auto extra = [](const char* key) {
    return [key](const EpochMetrics& epoch) { return epoch.extra().at(key); };
  };
  EXPECT_THAT(Scalars(size), Pointwise(FloatEq(), Column(epochs, extra("model_size_mb"))));
  EXPECT_THAT(Scalars(mean_bits), Pointwise(FloatEq(), Column(epochs, extra("mean_bits"))));

  const auto histograms = Find(events, "diffq/bits_per_layer");
  EXPECT_THAT(Steps(histograms), ElementsAre(20, 40));
  ASSERT_FALSE(histograms.empty());
  std::vector<double> layer_bits;
  for (const serialization::LayerSummary& layer : summary.layers()) {
    if (layer.encoding() == "uniform") layer_bits.push_back(layer.bits());
  }
  ASSERT_FALSE(layer_bits.empty());
  double sum = 0;
  for (const double bits : layer_bits) sum += bits;
  const HistogramProto& last = histograms.back().second.histo();
  EXPECT_EQ(last.bucket_size(), serialization::kHistogramBuckets);  // the layers differ
  EXPECT_EQ(last.num(), static_cast<double>(layer_bits.size()));
  EXPECT_DOUBLE_EQ(last.min(), *std::min_element(layer_bits.begin(), layer_bits.end()));
  EXPECT_DOUBLE_EQ(last.max(), *std::max_element(layer_bits.begin(), layer_bits.end()));
  EXPECT_DOUBLE_EQ(last.sum(), sum);
  EXPECT_GE(epochs.back().extra().at("mean_bits"), last.min());
  EXPECT_LE(epochs.back().extra().at("mean_bits"), last.max());
}

// Tests that resuming with another configuration is refused, names the problem, and leaves
// the run's recorded config as it was.
TEST(RunnerTest, ResumeRefusesAnotherConfig) {
  ExperimentConfig config = SmallRun("changed");
  RunOptions stop = QuietRun();
  stop.stop_after_epochs = 1;
  ASSERT_FALSE(RunExperiment(config, &Float, stop).ok());
  const std::string config_path = config.output().dir() + "/config.textproto";
  const absl::StatusOr<std::string> recorded = serialization::ReadFileToString(config_path);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  config.mutable_training()->set_lr(0.2);
  RunOptions resume = QuietRun();
  resume.resume = true;
  EXPECT_THAT(RunExperiment(config, &Float, resume),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("another configuration")));
  EXPECT_THAT(serialization::ReadFileToString(config_path), IsOkAndHolds(*recorded));
}

// Tests that a run resumes with other threads and loader workers (another machine's), to the
// model of an uninterrupted run.
TEST(RunnerTest, ResumesWithOtherThreadsAndWorkers) {
  ExperimentConfig config = SmallRun("other_threads");
  RunOptions stop = QuietRun();
  stop.stop_after_epochs = 1;
  ASSERT_FALSE(RunExperiment(config, &Float, stop).ok());
  config.mutable_training()->set_threads(config.training().threads() + 1);
  config.mutable_data()->set_workers(config.data().workers() + 1);
  const absl::StatusOr<ExperimentSummary> resumed =
      RunExperiment(config, &Float, QuietRun(/*resume=*/true));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->epochs(), config.training().epochs());
}

// Tests that a run killed in the middle of writing its checkpoint resumes from the previous
// one, and that the temporary files of the interrupted writes are deleted.
TEST(RunnerTest, ResumesOverTheTemporaryFilesOfAKilledRun) {
  const ExperimentConfig config = SmallRun("killed_while_writing");
  const std::string& dir = config.output().dir();
  const absl::StatusOr<std::string> checkpoint = CheckpointOfFirstEpoch(config);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  const std::vector<std::string> temporaries = {dir + "/checkpoint.pt.tmp.k1lLed",
                                                dir + "/metrics.jsonl.tmp.000000"};
  ASSERT_TRUE(serialization::WriteFileAtomically(temporaries[0],
                                                 checkpoint->substr(0, checkpoint->size() / 2)).ok());
  ASSERT_TRUE(serialization::WriteFileAtomically(temporaries[1], "").ok());

  ASSERT_TRUE(RunExperiment(config, &Float, QuietRun(/*resume=*/true)).ok());
  for (const std::string& path : temporaries) EXPECT_FALSE(Exists(path)) << path;
  ExpectSameModelTensors(UninterruptedModelFile(), dir + "/model.mcm");
}

// Tests that a run killed after its last checkpoint, before model.mcm and summary.json were
// written, resumes without training and writes the model of an uninterrupted run.
TEST(RunnerTest, ResumesAfterTheLastCheckpoint) {
  const ExperimentConfig config = SmallRun("killed_after_last_checkpoint");
  const std::string& dir = config.output().dir();
  ASSERT_TRUE(RunExperiment(config, &Float, QuietRun()).ok());
  ASSERT_EQ(std::remove((dir + "/model.mcm").c_str()), 0);
  ASSERT_EQ(std::remove((dir + "/summary.json").c_str()), 0);

  std::ostringstream log;
  RunOptions resume = QuietRun(/*resume=*/true);
  resume.log = &log;
  const absl::StatusOr<ExperimentSummary> summary = RunExperiment(config, &Float, resume);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(log.str(), HasSubstr("after epoch 3"));
  EXPECT_THAT(log.str(), Not(HasSubstr("epoch 3/3")));  // no epoch trained again
  ExpectSameModelTensors(UninterruptedModelFile(), dir + "/model.mcm");
  EXPECT_TRUE(Exists(dir + "/summary.json"));
  EXPECT_EQ(ReadMetrics(dir).value_or(std::vector<EpochMetrics>()).size(), 3u);
}

// Tests that a loss that becomes NaN stops the run with a message saying where, keeps the
// checkpoint of the last completed epoch and writes no model; resuming from that checkpoint
// ends with the model of an uninterrupted run.
TEST(RunnerTest, NonFiniteLossKeepsTheLastCheckpoint) {
  const ExperimentConfig config = SmallRun("nan_loss");
  const std::string& dir = config.output().dir();
  constexpr int64_t kStepsPerEpoch = 20;  // SmallRun's max_train_batches
  EXPECT_THAT(RunExperiment(config, Diverging(kStepsPerEpoch + 2, std::nan("")), QuietRun()),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("the training loss became nan at epoch 2 step 3")));
  EXPECT_FALSE(Exists(dir + "/model.mcm"));
  EXPECT_FALSE(Exists(dir + "/summary.json"));
  EXPECT_EQ(ReadMetrics(dir).value_or(std::vector<EpochMetrics>()).size(), 1u);

  std::ostringstream log;
  RunOptions resume = QuietRun(/*resume=*/true);
  resume.log = &log;
  ASSERT_TRUE(RunExperiment(config, &Float, resume).ok());
  EXPECT_THAT(log.str(), HasSubstr("after epoch 1"));
  ExpectSameModelTensors(UninterruptedModelFile(), dir + "/model.mcm");
}

// Tests that the runner tells the method, before each step, the fraction of the run's steps
// done: 0 at the first, rising by 1 / (epochs * steps per epoch), also after a resume.
TEST(RunnerTest, ReportsTheTrainingProgressBeforeEveryStep) {
  const ExperimentConfig config = SmallRun("progress");
  constexpr int64_t kSteps = 3 * 20;  // SmallRun's epochs * max_train_batches
  std::vector<double> progress;
  const MethodFactory recording = [&](const MethodContext& context)
      -> absl::StatusOr<std::unique_ptr<TrainingMethod>> {
    return std::make_unique<ProgressRecordingTraining>(context, &progress);
  };
  ASSERT_TRUE(RunExperiment(config, recording, QuietRun()).ok());
  ASSERT_EQ(progress.size(), static_cast<size_t>(kSteps));
  for (int64_t step = 0; step < kSteps; ++step) {
    EXPECT_DOUBLE_EQ(progress[step], static_cast<double>(step) / kSteps) << "step " << step;
  }

  // A run stopped in epoch 2 resumes at the progress of epoch 2's first step.
  const ExperimentConfig stopped = SmallRun("progress_resumed");
  ASSERT_FALSE(RunExperiment(stopped, Diverging(20 + 2, std::nan("")), QuietRun()).ok());
  progress.clear();
  ASSERT_TRUE(RunExperiment(stopped, recording, QuietRun(/*resume=*/true)).ok());
  ASSERT_EQ(progress.size(), static_cast<size_t>(kSteps - 20));
  EXPECT_DOUBLE_EQ(progress.front(), 20.0 / kSteps);
  EXPECT_DOUBLE_EQ(progress.back(), (kSteps - 1.0) / kSteps);
}

// Tests that an infinite loss in the first epoch stops the run before any checkpoint.
TEST(RunnerTest, InfiniteLossInTheFirstEpochLeavesNoCheckpoint) {
  const ExperimentConfig config = SmallRun("inf_loss");
  EXPECT_THAT(RunExperiment(config, Diverging(4, std::numeric_limits<double>::infinity()), QuietRun()),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("the training loss became inf at epoch 1 step 5")));
  EXPECT_FALSE(Exists(config.output().dir() + "/checkpoint.pt"));
  EXPECT_TRUE(absl::IsNotFound(ReadMetrics(config.output().dir()).status()));
}

// Tests that a checkpoint save that runs out of space (in a child process whose files may
// not grow beyond half a checkpoint) stops the run with the error, keeps the previous
// checkpoint byte for byte and leaves no temporary file; the run then resumes from it.
TEST(RunnerDeathTest, FullDiskKeepsThePreviousCheckpoint) {
  const ExperimentConfig config = SmallRun("full_disk");
  const std::string& dir = config.output().dir();
  const absl::StatusOr<std::string> checkpoint = CheckpointOfFirstEpoch(config);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();

  EXPECT_EXIT(
      {
        serialization::SimulateFullDisk(checkpoint->size() / 2);
        const absl::StatusOr<ExperimentSummary> summary = RunExperiment(config, &Float, QuietRun(/*resume=*/true));
        std::cerr << summary.status().message() << std::endl;
        std::exit(summary.ok() ? 0 : 1);
      },
      ::testing::ExitedWithCode(1), "cannot write .*/checkpoint.pt: File too large");
  EXPECT_EQ(serialization::ReadFileToString(dir + "/checkpoint.pt").value_or(""), *checkpoint);
  EXPECT_EQ(serialization::RemoveStaleTemporaryFiles(dir).value_or(-1), 0);

  ASSERT_TRUE(RunExperiment(config, &Float, QuietRun(/*resume=*/true)).ok());
  ExpectSameModelTensors(UninterruptedModelFile(), dir + "/model.mcm");
}

// Tests that a missing data set and an unknown model are reported, not crashed on.
// Tests that a model written in Python trains and compresses as a zoo model does, and that
// its model file rebuilds it alone: the runner scores the file it wrote, which holds the code.
TEST(RunnerTest, CompressesAScriptedModelIntoAFileThatRebuildsIt) {
  ExperimentConfig config = SmallRun("scripted");
  config.mutable_model()->set_name("residual_gelu");
  config.mutable_model()->set_torchscript_file("nn_models/testdata/scripted_residual_gelu.pt");
  MC_ASSERT_OK_AND_ASSIGN(const ExperimentSummary summary,
                          RunExperiment(config, &DiffQ, QuietRun()));
  EXPECT_GT(summary.test_accuracy(), 0.3);  // the synthetic set is learnable; chance is 0.1
  EXPECT_LT(summary.model_size_mb(), summary.float_model_size_mb() / 4);

  MC_ASSERT_OK_AND_ASSIGN(const serialization::CompressedModel stored,
                          serialization::ReadModelFile(summary.model_file()));
  EXPECT_EQ(stored.model().name(), "residual_gelu");
  EXPECT_FALSE(stored.model().has_torchscript_file());
  EXPECT_FALSE(stored.model().torchscript_code().empty());
}

TEST(RunnerTest, ReportsBadDataAndModel) {
  ExperimentConfig config = SmallRun("bad_model");
  config.mutable_model()->set_name("resnet1000");
  EXPECT_THAT(RunExperiment(config, &Float, QuietRun()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("resnet1000")));
  config = SmallRun("bad_data");
  config.mutable_data()->set_dataset("cifar10");
  config.mutable_data()->set_data_dir(std::string(std::getenv("TEST_TMPDIR")) + "/no_cifar");
  EXPECT_THAT(RunExperiment(config, &Float, QuietRun()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("data_batch_1.bin")));
}

}  // namespace
}  // namespace mc::experiments
