#include "experiments/runner.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <sys/stat.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/cpu_threads.h"
#include "common/status_macros.h"
#include "data/loader.h"
#include "data/token_loader.h"
#include "distributed/process_group.h"
#include "experiments/loss_growth.h"
#include "experiments/lr_schedule.h"
#include "experiments/progress.h"
#include "nn_models/memory_format.h"
#include "nn_models/model_config.h"
#include "nn_models/scripted_model.h"
#include "model_io/model_loading.h"
#include "serialization/atomic_file.h"
#include "serialization/event_writer.h"
#include "serialization/experiment_config.h"
#include "serialization/json.h"
#include "serialization/model_file.h"
#include "serialization/nested_archive.h"

namespace mc::experiments {
namespace {

using serialization::EpochMetrics;
using serialization::ExperimentConfig;
using serialization::ExperimentSummary;

constexpr char kCheckpointFile[] = "checkpoint.pt";
constexpr char kMetricsFile[] = "metrics.jsonl";
constexpr char kModelFile[] = "model.mcm";
constexpr char kSummaryFile[] = "summary.json";
constexpr char kConfigFile[] = "config.textproto";

// Training steps between two per-step TensorBoard events (see runner.h).
constexpr int64_t kStepEventInterval = 10;

// Language models' window length when training.bptt is unset.
constexpr int64_t kDefaultBptt = 35;
// The one EpochExtras() key logged under its own name rather than "<method>/<key>".
constexpr char kSharedExtra[] = "model_size_mb";

// Converts LibTorch exceptions escaping `body` into a Status naming `what`.
template <typename Body>
absl::Status TorchCall(absl::string_view what, Body&& body) {
  try {
    body();
  } catch (const c10::Error& error) {
    return absl::InternalError(absl::StrCat(what, ": ", error.what_without_backtrace()));
  } catch (const std::exception& error) {
    return absl::InternalError(absl::StrCat(what, ": ", error.what()));
  }
  return absl::OkStatus();
}

// TorchCall for a body that returns a value.
template <typename Body>
auto TorchResult(absl::string_view what, Body&& body) -> absl::StatusOr<decltype(body())> {
  std::optional<decltype(body())> result;
  MC_RETURN_IF_ERROR(TorchCall(what, [&] { result.emplace(body()); }));
  return *std::move(result);
}

// Accuracy and mean cross-entropy of `logits_of` over a loader's epoch.
struct Evaluation {
  double loss = 0;
  double accuracy = 0;
};

Evaluation Evaluate(const data::BatchSource& loader,
                    const std::function<at::Tensor(const at::Tensor&)>& logits_of) {
  torch::NoGradGuard no_grad;
  double loss_sum = 0;
  int64_t correct = 0;
  int64_t seen = 0;
  loader.ForEachBatch(0, [&](const at::Tensor& images, const at::Tensor& labels) {
    const at::Tensor logits = logits_of(images);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, labels,
                    torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += logits.argmax(1).eq(labels).sum().item<int64_t>();
    seen += labels.size(0);
    return true;
  });
  if (seen == 0) return {};
  return {loss_sum / seen, static_cast<double>(correct) / seen};
}

// Keeps only the metrics lines of epochs before `completed_epochs` (a resumed run rewrites
// the epochs after its checkpoint).
absl::Status TruncateMetrics(const std::string& path, int32_t completed_epochs) {
  absl::StatusOr<std::string> text = serialization::ReadFileToString(path);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();
  MC_RETURN_IF_ERROR(text.status());
  std::string kept;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    EpochMetrics metrics;
    // A torn last line (a crash while appending) is dropped like a later epoch.
    if (!serialization::ParseJson(line, path, metrics).ok()) continue;
    if (metrics.epoch() <= completed_epochs) absl::StrAppend(&kept, line, "\n");
  }
  return serialization::WriteFileAtomically(path, kept);
}

at::Tensor GeneratorState() {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void SetGeneratorState(const at::Tensor& state) {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

// The configuration a checkpoint records and must match to be resumed. What only says where
// and with what a run executes may change between launches, e.g. on another machine: how the
// ranks meet (this process's rank, rank 0's address and port, the timeout), the CPU threads
// and the loader's workers.
std::string CheckpointConfigText(ExperimentConfig config) {
  if (config.has_distributed()) {
    serialization::DistributedConfig& distributed = *config.mutable_distributed();
    distributed.clear_rank();
    distributed.clear_master_addr();
    distributed.clear_master_port();
    distributed.clear_timeout_seconds();
  }
  if (config.has_training()) config.mutable_training()->clear_threads();
  if (config.has_data()) config.mutable_data()->clear_workers();
  return serialization::ExperimentConfigToText(config);
}

// Whether a checkpoint's recorded configuration is the run's (`run_text`, its
// CheckpointConfigText). The recorded text is normalized the same way: earlier checkpoints
// recorded the fields that no longer count.
bool IsRunConfig(const std::string& recorded_text, const std::string& run_text) {
  ExperimentConfig recorded;
  if (!serialization::MergeExperimentConfigText(recorded_text, "checkpoint", recorded).ok()) {
    return false;
  }
  return CheckpointConfigText(std::move(recorded)) == run_text;
}

// Where a checkpoint leaves a run: its completed epochs and the seconds spent on them, over
// every process that ran them.
struct CheckpointProgress {
  int32_t completed_epochs = 0;
  double wall_seconds = 0;
};

absl::Status SaveCheckpoint(const std::string& path, const CheckpointProgress& progress,
                            const std::string& config_text, TrainingMethod& method) {
  std::ostringstream bytes;
  MC_RETURN_IF_ERROR(TorchCall("saving the checkpoint", [&] {
    torch::serialize::OutputArchive archive;
    archive.write("completed_epochs", c10::IValue(static_cast<int64_t>(progress.completed_epochs)));
    archive.write("wall_seconds", c10::IValue(progress.wall_seconds));
    archive.write("config", c10::IValue(config_text));
    archive.write("rng_state", GeneratorState());
    serialization::WriteNested(archive, "method", [&method](torch::serialize::OutputArchive& nested) {
      method.Save(nested);
    });
    archive.save_to(bytes);
  }));
  return serialization::WriteFileAtomically(path, bytes.str());
}

// Loads a checkpoint, the bytes of the file at `path`, into `method`. A checkpoint written
// before wall_seconds was recorded reports 0 seconds.
absl::StatusOr<CheckpointProgress> LoadCheckpoint(const std::string& bytes, const std::string& path,
                                                  const std::string& config_text,
                                                  TrainingMethod& method) {
  CheckpointProgress progress;
  bool same_config = false;
  MC_RETURN_IF_ERROR(TorchCall(absl::StrCat("reading checkpoint ", path), [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(bytes.data(), bytes.size());
    c10::IValue value;
    archive.read("config", value);
    same_config = IsRunConfig(value.toStringRef(), config_text);
    if (!same_config) return;
    archive.read("completed_epochs", value);
    progress.completed_epochs = static_cast<int32_t>(value.toInt());
    if (archive.try_read("wall_seconds", value)) progress.wall_seconds = value.toDouble();
    at::Tensor rng_state;
    archive.read("rng_state", rng_state);
    serialization::ReadNested(archive, "method", [&method](torch::serialize::InputArchive& nested) {
      method.Load(nested);
    });
    SetGeneratorState(rng_state);
  }));
  if (!same_config) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot resume from ", path, ": it was written with another configuration (see ",
        kConfigFile, " next to it); use a new --output_dir or the same flags"));
  }
  return progress;
}

// Logs an epoch's metrics.jsonl values and the method's histograms at the global `step`
// (tags in runner.h).
absl::Status WriteEpochEvents(serialization::EventWriter& events, int64_t step,
                              const EpochMetrics& metrics, TrainingMethod& method) {
  std::map<std::string, double> scalars = {
      {"train/loss", metrics.train_loss()},
      {"train/accuracy", metrics.train_accuracy()},
      {"lr", metrics.lr()},
      {"images_per_second", metrics.images_per_second()},
      {"epoch_seconds", metrics.epoch_seconds()},
  };
  if (metrics.valid_perplexity() > 0) {  // a text corpus
    scalars["train/perplexity"] = metrics.train_perplexity();
    scalars["valid/loss"] = metrics.valid_loss();
    scalars["valid/accuracy"] = metrics.valid_accuracy();
    scalars["valid/perplexity"] = metrics.valid_perplexity();
  } else {
    scalars["test/loss"] = metrics.test_loss();
    scalars["test/accuracy"] = metrics.test_accuracy();
  }
  const std::string group = absl::StrCat(method.name(), "/");
  for (const auto& [key, value] : metrics.extra()) {
    scalars[key == kSharedExtra ? key : group + key] = value;
  }
  MC_RETURN_IF_ERROR(events.WriteScalars(step, scalars));
  std::map<std::string, std::vector<double>> histograms;
  MC_RETURN_IF_ERROR(TorchCall("the method's histograms", [&] {
    for (auto& [key, values] : method.EpochHistograms()) {
      histograms[group + key] = std::move(values);
    }
  }));
  if (histograms.empty()) return absl::OkStatus();
  return events.WriteHistograms(step, histograms);
}

int64_t FileSize(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 ? static_cast<int64_t>(info.st_size) : 0;
}

data::LoaderOptions TrainLoaderOptions(const ExperimentConfig& config) {
  data::LoaderOptions options;
  options.batch_size = config.training().batch_size();
  options.shuffle = true;
  options.augment = config.data().augment();
  options.workers = config.data().workers();
  options.seed = config.training().seed();
  options.drop_last = false;
  return options;
}

// This rank's slice of every global batch: the examples at positions rank, rank + world_size,
// ... of each epoch's order, batch_size / world_size of them per step.
data::LoaderOptions ShardLoaderOptions(const ExperimentConfig& config) {
  data::LoaderOptions options = TrainLoaderOptions(config);
  if (config.has_distributed()) {
    options.world_size = config.distributed().world_size();
    options.rank = config.distributed().rank();
    options.batch_size /= options.world_size;
  }
  return options;
}

data::LoaderOptions TestLoaderOptions(const ExperimentConfig& config) {
  data::LoaderOptions options;
  options.batch_size = config.training().eval_batch_size();
  options.workers = config.data().workers();
  return options;
}

// The process group of a data-parallel run of `config`, or null for a single process.
absl::StatusOr<distributed::ProcessGroup*> RunProcessGroup(const ExperimentConfig& config,
                                                           distributed::ProcessGroup* group) {
  if (!config.has_distributed() || config.distributed().world_size() <= 1) return nullptr;
  const serialization::DistributedConfig& wanted = config.distributed();
  if (group == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "distributed.world_size = ", wanted.world_size(),
        " needs a process group connecting the ranks (RunOptions::process_group)"));
  }
  if (group->world_size() != wanted.world_size() || group->rank() != wanted.rank()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the process group connects rank ", group->rank(), " of ", group->world_size(),
        ", but the configuration is for rank ", wanted.rank(), " of ", wanted.world_size()));
  }
  if (config.training().batch_size() % wanted.world_size() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "training.batch_size = ", config.training().batch_size(),
        " is not a multiple of distributed.world_size = ", wanted.world_size()));
  }
  return group;
}

// Rank 0's `value`, or its error with its status code, on every rank (the others pass
// anything and wait here while rank 0 works alone), so that a failure of rank 0 ends every
// rank. On the wire: one byte of status code, then the value or the error message.
absl::StatusOr<std::string> FromRankZero(distributed::ProcessGroup* group,
                                         const absl::StatusOr<std::string>& value) {
  if (group == nullptr) return value;
  std::string message;
  if (group->rank() == 0) {
    message.push_back(static_cast<char>(value.status().code()));
    message.append(value.ok() ? *value : std::string(value.status().message()));
  }
  MC_RETURN_IF_ERROR(group->BroadcastBytes(message));
  if (group->rank() == 0) return value;
  if (message.empty()) return absl::DataLossError("rank 0 sent an empty result");
  const auto code = static_cast<absl::StatusCode>(static_cast<unsigned char>(message[0]));
  if (code != absl::StatusCode::kOk) {
    return absl::Status(code, absl::StrCat("rank 0 failed: ", message.substr(1)));
  }
  return message.substr(1);
}

// Rank 0's status on every rank (see FromRankZero).
absl::Status StatusFromRankZero(distributed::ProcessGroup* group, const absl::Status& status) {
  return FromRankZero(group, status.ok() ? absl::StatusOr<std::string>("") : status).status();
}

// Copies rank 0's random-generator state to every rank, e.g. after rank 0 alone evaluated.
absl::Status ShareGeneratorState(distributed::ProcessGroup* group) {
  if (group == nullptr) return absl::OkStatus();
  at::Tensor state = GeneratorState();
  MC_RETURN_IF_ERROR(group->Broadcast({state}));
  SetGeneratorState(state);
  return absl::OkStatus();
}

// Copies rank 0's replicated tensors (parameters, BatchNorm statistics, ...) to every rank.
absl::Status ShareReplicatedTensors(distributed::ProcessGroup* group, TrainingMethod& method) {
  if (group == nullptr) return absl::OkStatus();
  return group->Broadcast(method.ReplicatedTensors());
}

// Running sums of an epoch's training steps, and of those since the last per-step event.
struct EpochTotals {
  int64_t steps = 0;
  double loss_sum = 0;
  int64_t correct = 0;
  int64_t seen = 0;
  double window_loss_sum = 0;
  int64_t window_correct = 0;
  int64_t window_seen = 0;
  double lr = 0;  // of the last step
};

// One run of RunExperiment, stage by stage, in the order RunExperiment calls them; every
// stage runs on every rank (rank 0 alone writes the output directory and evaluates).
class ExperimentRun {
 public:
  ExperimentRun(const ExperimentConfig& config, const RunOptions& options,
                distributed::ProcessGroup* group, std::chrono::steady_clock::time_point start)
      : config_(config),
        training_(config.training()),
        options_(options),
        group_(group),
        rank_zero_(group == nullptr || group->rank() == 0),
        log_(rank_zero_ ? *options.log : silent_),
        dir_(config.output().dir()),
        config_text_(CheckpointConfigText(config)),
        checkpoint_path_(absl::StrCat(dir_, "/", kCheckpointFile)),
        metrics_path_(absl::StrCat(dir_, "/", kMetricsFile)),
        start_(start) {}

  // Creates the output directory and clears what a killed run left there.
  absl::Status PrepareOutputDir();
  // Sets the CPU threads and loads the data set (the held-out splits on rank 0 only).
  absl::Status LoadData();
  // Builds the seeded model in its memory format, then the method (connected to the ranks).
  absl::Status BuildMethod(const MethodFactory& factory);
  // Loads rank 0's checkpoint into every rank when asked to resume and one exists.
  absl::Status Resume();
  // Writes the config (once a resumed checkpoint has been accepted, so that a refused resume
  // leaves the run's files as they were), opens the metrics and events, aligns the ranks, and
  // sets up the learning-rate schedule.
  absl::Status StartTraining();
  // Trains one epoch, then evaluates it and writes its metrics and checkpoint (rank 0).
  absl::Status RunEpoch(int32_t epoch);
  // Compresses, writes and verifies the model file and the summary (rank 0); every rank
  // returns rank 0's summary.
  absl::StatusOr<ExperimentSummary> WriteResults();

  int32_t first_epoch() const { return first_epoch_; }

 private:
  absl::Status LoadImages();
  absl::Status LoadTextCorpus();
  // Where every epoch is evaluated: the validation split of a text corpus, else the test split.
  const data::BatchSource& epoch_eval_loader() const {
    return valid_loader_ ? *valid_loader_ : *test_loader_;
  }
  bool text() const { return dataset_.corpus_layout.has_value(); }
  absl::Status TrainStep(int32_t epoch, const at::Tensor& images, const at::Tensor& labels,
                         EpochTotals& totals, ProgressBar& bar);
  absl::Status WriteStepEvents(int32_t epoch, EpochTotals& totals);
  absl::Status SumOverRanks(EpochTotals& totals);
  // Writes an epoch's evaluation into `metrics` and ends the bar with it.
  void RecordHeldOut(const Evaluation& held_out, EpochMetrics& metrics, ProgressBar& bar);
  absl::Status EvaluateAndCheckpoint(int32_t epoch, const EpochTotals& totals,
                                     double train_seconds, ProgressBar& bar);
  absl::StatusOr<CompressedResult> CompressAndWrite(const std::string& model_path);
  absl::StatusOr<ExperimentSummary> CompressAndVerify();
  void SetLearningRate(double lr);
  // The batches in the model's layout.
  at::Tensor ModelInput(const at::Tensor& images) const {
    return channels_last_ ? nn_models::ChannelsLast(images) : images;
  }
  // The run's seconds so far, over this process and those it resumed from.
  double wall_seconds() const {
    return resumed_seconds_ +
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  const ExperimentConfig& config_;
  const serialization::TrainingConfig& training_;
  const RunOptions& options_;
  distributed::ProcessGroup* const group_;
  const bool rank_zero_;
  std::ostream silent_{nullptr};  // the other ranks' progress goes nowhere
  std::ostream& log_;
  const std::string dir_;
  const std::string config_text_;
  const std::string checkpoint_path_;
  const std::string metrics_path_;
  const std::chrono::steady_clock::time_point start_;

  data::DatasetInfo dataset_;
  std::unique_ptr<data::BatchSource> train_loader_;  // the whole set, for calibration
  std::unique_ptr<data::BatchSource> shard_loader_;  // this rank's slice, to train
  std::unique_ptr<data::BatchSource> test_loader_;   // rank 0 alone evaluates
  std::unique_ptr<data::BatchSource> valid_loader_;  // text corpora, rank 0
  double valid_perplexity_ = 0;                      // of the last epoch, text corpora
  bool channels_last_ = false;
  std::shared_ptr<nn_models::Classifier> model_;
  std::unique_ptr<TrainingMethod> method_;
  int64_t gradient_syncs_ = 0;
  absl::Status sync_status_;  // the first failed gradient sync of the current step
  LossGrowthMonitor loss_growth_;
  int32_t first_epoch_ = 0;
  double resumed_seconds_ = 0;  // spent by earlier processes on the epochs resumed from
  std::optional<serialization::EventWriter> events_;  // rank 0
  int64_t steps_per_epoch_ = 0;
  double total_steps_ = 0;
  std::vector<std::vector<double>> initial_lrs_;  // per scheduled optimizer and group
};

absl::Status ExperimentRun::PrepareOutputDir() {
  if (!rank_zero_) return absl::OkStatus();
  MC_RETURN_IF_ERROR(serialization::CreateDirectories(dir_));
  // A run killed while writing (e.g. its checkpoint) leaves a temporary file beside it.
  MC_ASSIGN_OR_RETURN(const int stale_files, serialization::RemoveStaleTemporaryFiles(dir_));
  if (stale_files > 0) {
    log_ << "removed " << stale_files << " unfinished temporary files from " << dir_ << std::endl;
  }
  return absl::OkStatus();
}

absl::Status ExperimentRun::LoadData() {
  ConfigureCpuThreads(training_.threads());
  MC_ASSIGN_OR_RETURN(dataset_, data::GetDatasetInfo(config_.data().dataset()));
  return text() ? LoadTextCorpus() : LoadImages();
}

absl::Status ExperimentRun::LoadImages() {
  const std::string& data_dir = config_.data().data_dir();
  MC_ASSIGN_OR_RETURN(data::ImageData train_data,
                      data::LoadImageData(dataset_.name, data_dir, data::Split::kTrain));
  // Both loaders share the images.
  train_loader_ = std::make_unique<data::ImageLoader>(train_data, dataset_, TrainLoaderOptions(config_));
  shard_loader_ = std::make_unique<data::ImageLoader>(std::move(train_data), dataset_,
                                                      ShardLoaderOptions(config_));
  if (!rank_zero_) return absl::OkStatus();
  MC_ASSIGN_OR_RETURN(data::ImageData test_data,
                      data::LoadImageData(dataset_.name, data_dir, data::Split::kTest));
  test_loader_ = std::make_unique<data::ImageLoader>(std::move(test_data), dataset_,
                                                     TestLoaderOptions(config_));
  return absl::OkStatus();
}

// The corpus's vocabulary sets the number of classes; the training split is read as
// training.batch_size streams (batch_size / world_size per rank), the held-out splits as
// eval_batch_size streams, all in windows of training.bptt.
absl::Status ExperimentRun::LoadTextCorpus() {
  const std::string dir = config_.data().data_dir().empty() ? data::DefaultDataDir(dataset_.name)
                                                            : config_.data().data_dir();
  data::VocabularyOptions vocabulary;
  vocabulary.max_size = config_.data().vocabulary_size();
  MC_ASSIGN_OR_RETURN(const data::TokenCorpus corpus,
                      data::ReadTokenCorpus(dir, *dataset_.corpus_layout, vocabulary));
  dataset_.num_classes = corpus.vocabulary.size();
  const int64_t bptt = training_.has_bptt() ? training_.bptt() : kDefaultBptt;
  const auto loader = [&](const std::vector<int32_t>& ids, int64_t streams, int rank,
                          int world_size) -> absl::StatusOr<std::unique_ptr<data::BatchSource>> {
    MC_ASSIGN_OR_RETURN(data::TokenLoader made,
                        data::TokenLoader::Create(ids, {streams, bptt, rank, world_size}));
    return std::make_unique<data::TokenLoader>(std::move(made));
  };
  MC_ASSIGN_OR_RETURN(train_loader_, loader(corpus.train, training_.batch_size(), 0, 1));
  const data::LoaderOptions shard = ShardLoaderOptions(config_);
  MC_ASSIGN_OR_RETURN(shard_loader_, loader(corpus.train, shard.batch_size,
                                            static_cast<int>(shard.rank),
                                            static_cast<int>(shard.world_size)));
  if (!rank_zero_) return absl::OkStatus();
  MC_ASSIGN_OR_RETURN(valid_loader_, loader(corpus.valid, training_.eval_batch_size(), 0, 1));
  MC_ASSIGN_OR_RETURN(test_loader_, loader(corpus.test, training_.eval_batch_size(), 0, 1));
  return absl::OkStatus();
}

absl::Status ExperimentRun::BuildMethod(const MethodFactory& factory) {
  at::manual_seed(training_.seed());
  MC_ASSIGN_OR_RETURN(model_, model_io::BuildModel(config_.model(), dataset_));
  channels_last_ = training_.memory_format() == serialization::TrainingConfig::CHANNELS_LAST;
  if (channels_last_) nn_models::ToChannelsLast(*model_);
  MC_ASSIGN_OR_RETURN(method_, factory(MethodContext{config_, dataset_, model_, *train_loader_}));
  if (group_ != nullptr) {
    // A failed sync is reported after the step (TrainStep), not thrown through the method.
    method_->set_gradient_sync([this](const std::vector<at::Tensor>& parameters) {
      if (sync_status_.ok()) sync_status_ = group_->AverageGradients(parameters);
      ++gradient_syncs_;
    });
  }
  return absl::OkStatus();
}

absl::Status ExperimentRun::Resume() {
  if (!options_.resume) return absl::OkStatus();
  // Rank 0's checkpoint, if any, resumes every rank.
  absl::StatusOr<std::string> checkpoint = std::string();
  if (rank_zero_ && FileSize(checkpoint_path_) > 0) {
    checkpoint = serialization::ReadFileToString(checkpoint_path_);
  }
  MC_ASSIGN_OR_RETURN(const std::string bytes, FromRankZero(group_, checkpoint));
  if (bytes.empty()) return absl::OkStatus();
  MC_ASSIGN_OR_RETURN(const CheckpointProgress progress,
                      LoadCheckpoint(bytes, checkpoint_path_, config_text_, *method_));
  first_epoch_ = progress.completed_epochs;
  resumed_seconds_ = progress.wall_seconds;
  log_ << "resuming " << dir_ << " after epoch " << first_epoch_ << std::endl;
  return absl::OkStatus();
}

absl::Status ExperimentRun::StartTraining() {
  if (rank_zero_) {
    MC_RETURN_IF_ERROR(serialization::WriteFileAtomically(
        absl::StrCat(dir_, "/", kConfigFile), serialization::ExperimentConfigToText(config_)));
    MC_RETURN_IF_ERROR(TruncateMetrics(metrics_path_, first_epoch_));
    // A new events file for every run, resumed or not (see runner.h).
    MC_ASSIGN_OR_RETURN(serialization::EventWriter writer,
                        serialization::EventWriter::Create(dir_));
    events_.emplace(std::move(writer));
  }
  MC_RETURN_IF_ERROR(ShareReplicatedTensors(group_, *method_));
  MC_RETURN_IF_ERROR(ShareGeneratorState(group_));
  steps_per_epoch_ = shard_loader_->num_batches();
  if (training_.max_train_batches() > 0) {
    steps_per_epoch_ = std::min<int64_t>(steps_per_epoch_, training_.max_train_batches());
  }
  total_steps_ = static_cast<double>(training_.epochs()) * steps_per_epoch_;
  for (torch::optim::Optimizer* optimizer : method_->ScheduledOptimizers()) {
    std::vector<double> group_lrs;
    for (const auto& param_group : optimizer->param_groups()) {
      group_lrs.push_back(param_group.options().get_lr());
    }
    initial_lrs_.push_back(group_lrs);
  }
  return absl::OkStatus();
}

// Scales every scheduled optimizer group's initial rate by lr / training.lr.
void ExperimentRun::SetLearningRate(double lr) {
  const std::vector<torch::optim::Optimizer*> optimizers = method_->ScheduledOptimizers();
  for (size_t i = 0; i < optimizers.size(); ++i) {
    auto& groups = optimizers[i]->param_groups();
    for (size_t g = 0; g < groups.size(); ++g) {
      groups[g].options().set_lr(initial_lrs_[i][g] * lr / training_.lr());
    }
  }
}

absl::Status ExperimentRun::RunEpoch(int32_t epoch) {
  const bool interactive = rank_zero_ && IsTerminal(stdout) && options_.log == &std::cout;
  ProgressBar bar(absl::StrFormat("epoch %d/%d", epoch + 1, training_.epochs()),
                  steps_per_epoch_, log_, interactive, text() ? "tok" : "img");
  EpochTotals totals;
  totals.lr = training_.lr();
  absl::Status step_status;
  shard_loader_->ForEachBatch(epoch, [&](const at::Tensor& images, const at::Tensor& labels) {
    step_status = TrainStep(epoch, images, labels, totals, bar);
    return step_status.ok() && totals.steps < steps_per_epoch_;
  });
  MC_RETURN_IF_ERROR(step_status);
  const double train_seconds = bar.elapsed_seconds();
  MC_RETURN_IF_ERROR(SumOverRanks(totals));
  MC_RETURN_IF_ERROR(ShareReplicatedTensors(group_, *method_));
  absl::Status epoch_status;
  if (rank_zero_) epoch_status = EvaluateAndCheckpoint(epoch, totals, train_seconds, bar);
  MC_RETURN_IF_ERROR(StatusFromRankZero(group_, epoch_status));
  return ShareGeneratorState(group_);
}

absl::Status ExperimentRun::TrainStep(int32_t epoch, const at::Tensor& images,
                                      const at::Tensor& labels, EpochTotals& totals,
                                      ProgressBar& bar) {
  const int64_t step = epoch * steps_per_epoch_ + totals.steps;
  totals.lr = LearningRateAt(training_, step, steps_per_epoch_);
  SetLearningRate(totals.lr);
  method_->SetTrainingProgress(static_cast<double>(step) / total_steps_);
  StepResult result;
  const int64_t syncs_before = gradient_syncs_;
  MC_RETURN_IF_ERROR(TorchCall("training step", [&] {
    result = method_->TrainStep(ModelInput(images), labels);
  }));
  MC_RETURN_IF_ERROR(sync_status_);
  if (group_ != nullptr && gradient_syncs_ == syncs_before) {
    return absl::FailedPreconditionError(absl::StrCat(
        "method \"", method_->name(),
        "\" took a training step without averaging its gradients over the ranks "
        "(TrainingMethod::gradient_sync); it cannot train data-parallel"));
  }
  const double loss = result.loss.item<double>();
  if (!std::isfinite(loss)) {
    return absl::InternalError(absl::StrFormat(
        "the training loss became %f at epoch %d step %d; stopping (the last checkpoint, "
        "if any, is kept; try a lower --lr)",
        loss, epoch + 1, totals.steps + 1));
  }
  MC_RETURN_IF_ERROR(loss_growth_.Add(step + 1, loss));
  const int64_t batch_correct = result.logits.detach().argmax(1).eq(labels).sum().item<int64_t>();
  totals.loss_sum += loss * labels.size(0);
  totals.correct += batch_correct;
  totals.seen += labels.size(0);
  totals.window_loss_sum += loss * labels.size(0);
  totals.window_correct += batch_correct;
  totals.window_seen += labels.size(0);
  ++totals.steps;
  bar.Update(totals.steps, totals.seen, totals.loss_sum / totals.seen,
             static_cast<double>(totals.correct) / totals.seen);
  if (!events_ || totals.steps % kStepEventInterval != 0) return absl::OkStatus();
  return WriteStepEvents(epoch, totals);
}

// Logs the means over the steps since the last per-step event, and starts a new window.
absl::Status ExperimentRun::WriteStepEvents(int32_t epoch, EpochTotals& totals) {
  MC_RETURN_IF_ERROR(events_->WriteScalars(
      epoch * steps_per_epoch_ + totals.steps,
      {{"train/step_loss", totals.window_loss_sum / totals.window_seen},
       {"train/step_accuracy", static_cast<double>(totals.window_correct) / totals.window_seen}}));
  totals.window_loss_sum = 0;
  totals.window_correct = 0;
  totals.window_seen = 0;
  return absl::OkStatus();
}

// Replaces this rank's sums by those over every rank.
absl::Status ExperimentRun::SumOverRanks(EpochTotals& totals) {
  if (group_ == nullptr) return absl::OkStatus();
  at::Tensor sums = at::tensor(
      {totals.loss_sum, static_cast<double>(totals.correct), static_cast<double>(totals.seen)},
      at::kDouble);
  MC_RETURN_IF_ERROR(group_->AllReduceSum({sums}));
  totals.loss_sum = sums[0].item<double>();
  totals.correct = static_cast<int64_t>(sums[1].item<double>());
  totals.seen = static_cast<int64_t>(sums[2].item<double>());
  return absl::OkStatus();
}

void ExperimentRun::RecordHeldOut(const Evaluation& held_out, EpochMetrics& metrics,
                                  ProgressBar& bar) {
  if (!text()) {
    bar.Finish(absl::StrFormat("test loss %.4f acc %.4f", held_out.loss, held_out.accuracy));
    metrics.set_test_loss(held_out.loss);
    metrics.set_test_accuracy(held_out.accuracy);
    return;
  }
  valid_perplexity_ = std::exp(held_out.loss);
  bar.Finish(absl::StrFormat("valid loss %.4f ppl %.2f", held_out.loss, valid_perplexity_));
  metrics.set_valid_loss(held_out.loss);
  metrics.set_valid_accuracy(held_out.accuracy);
  metrics.set_valid_perplexity(valid_perplexity_);
  metrics.set_train_perplexity(std::exp(metrics.train_loss()));
}

absl::Status ExperimentRun::EvaluateAndCheckpoint(int32_t epoch, const EpochTotals& totals,
                                                  double train_seconds, ProgressBar& bar) {
  MC_ASSIGN_OR_RETURN(const Evaluation held_out, TorchResult("evaluation", [&] {
    return Evaluate(epoch_eval_loader(), [&](const at::Tensor& images) {
      return method_->EvalLogits(ModelInput(images));
    });
  }));
  const int64_t seen = totals.seen;
  EpochMetrics metrics;
  metrics.set_epoch(epoch + 1);
  metrics.set_train_loss(seen > 0 ? totals.loss_sum / seen : 0);
  metrics.set_train_accuracy(seen > 0 ? static_cast<double>(totals.correct) / seen : 0);
  RecordHeldOut(held_out, metrics, bar);
  metrics.set_lr(totals.lr);
  metrics.set_images_per_second(train_seconds > 0 ? seen / train_seconds : 0);
  metrics.set_epoch_seconds(bar.elapsed_seconds());
  for (const auto& [key, value] : method_->EpochExtras()) (*metrics.mutable_extra())[key] = value;
  MC_RETURN_IF_ERROR(
      serialization::AppendToFile(metrics_path_, serialization::ToJsonLine(metrics) + "\n"));
  MC_RETURN_IF_ERROR(
      WriteEpochEvents(*events_, epoch * steps_per_epoch_ + totals.steps, metrics, *method_));
  return SaveCheckpoint(checkpoint_path_, {epoch + 1, wall_seconds()}, config_text_, *method_);
}

// The method's compressed model, with the architecture and data set that rebuild it, written
// to `model_path`.
absl::StatusOr<CompressedResult> ExperimentRun::CompressAndWrite(const std::string& model_path) {
  absl::StatusOr<CompressedResult> compressed;
  MC_RETURN_IF_ERROR(TorchCall("compressing the model", [&] { compressed = method_->Compress(); }));
  MC_RETURN_IF_ERROR(compressed.status());
  serialization::CompressedModel& stored = compressed->model;
  // A method may record the format-level method of its encoder (e.g. "uniform" for QAT).
  if (stored.method().empty()) stored.set_method(method_->name());
  *stored.mutable_model() = config_.model();
  stored.mutable_model()->set_in_channels(
      config_.model().in_channels() > 0 ? config_.model().in_channels() : dataset_.channels);
  stored.mutable_model()->set_num_classes(
      config_.model().num_classes() > 0 ? config_.model().num_classes() : dataset_.num_classes);
  if (const auto* scripted = dynamic_cast<const nn_models::ScriptedModelImpl*>(model_.get())) {
    stored.mutable_model()->clear_torchscript_file();
    stored.mutable_model()->set_torchscript_code(scripted->SaveCodeArchive());
  }
  stored.set_dataset(dataset_.name);
  MC_RETURN_IF_ERROR(serialization::WriteModelFile(model_path, stored));
  return compressed;
}

// Writes the compressed model, evaluates what was written, and writes the summary.
absl::StatusOr<ExperimentSummary> ExperimentRun::CompressAndVerify() {
  const std::string model_path = absl::StrCat(dir_, "/", kModelFile);
  MC_ASSIGN_OR_RETURN(const CompressedResult compressed, CompressAndWrite(model_path));
  MC_ASSIGN_OR_RETURN(serialization::CompressedModel read_back,
                      serialization::ReadModelFile(model_path));
  MC_ASSIGN_OR_RETURN(std::shared_ptr<nn_models::Classifier> restored,
                      model_io::BuildModel(read_back.model(), dataset_));
  MC_RETURN_IF_ERROR(method_->Restore(read_back, *restored));
  MC_ASSIGN_OR_RETURN(const Evaluation file_eval, TorchResult("evaluating the written model", [&] {
    restored->eval();
    return Evaluate(*test_loader_, [&](const at::Tensor& images) {
      return restored->forward(ModelInput(images));
    });
  }));
  // The file records what it was measured at (run_model reports it beside its own figure).
  (*read_back.mutable_metrics())["test_accuracy"] = file_eval.accuracy;
  if (text()) (*read_back.mutable_metrics())["test_perplexity"] = std::exp(file_eval.loss);
  MC_RETURN_IF_ERROR(serialization::WriteModelFile(model_path, read_back));

  ExperimentSummary summary;
  summary.set_experiment(config_.experiment());
  summary.set_dataset(dataset_.name);
  summary.set_model(config_.model().name());
  summary.set_method(method_->name());
  summary.set_test_accuracy(file_eval.accuracy);
  if (text()) {
    summary.set_test_perplexity(std::exp(file_eval.loss));
    summary.set_valid_perplexity(valid_perplexity_);
  }
  summary.set_float_model_size_mb(model_io::FloatModelSizeMb(*restored));
  summary.set_model_size_mb(compressed.model_size_mb);
  summary.set_compression_ratio(
      compressed.model_size_mb > 0 ? summary.float_model_size_mb() / compressed.model_size_mb : 0);
  summary.set_model_file(model_path);
  summary.set_compressed_file_bytes(FileSize(model_path));
  summary.set_epochs(training_.epochs());
  summary.set_seed(training_.seed());
  for (const auto& layer : compressed.layers) *summary.add_layers() = layer;
  *summary.mutable_config() = config_;
  method_->FillSummary(summary);
  summary.set_wall_seconds(wall_seconds());
  MC_RETURN_IF_ERROR(serialization::WriteJsonFile(absl::StrCat(dir_, "/", kSummaryFile), summary));
  return summary;
}

absl::StatusOr<ExperimentSummary> ExperimentRun::WriteResults() {
  if (group_ == nullptr) return CompressAndVerify();
  absl::StatusOr<std::string> summary_bytes = std::string();
  if (rank_zero_) {
    absl::StatusOr<ExperimentSummary> summary = CompressAndVerify();
    summary_bytes = summary.ok() ? absl::StatusOr<std::string>(summary->SerializeAsString())
                                 : summary.status();
  }
  MC_ASSIGN_OR_RETURN(const std::string bytes, FromRankZero(group_, summary_bytes));
  ExperimentSummary summary;
  if (!summary.ParseFromString(bytes)) return absl::DataLossError("rank 0's summary did not parse");
  return summary;
}

}  // namespace

bool IsRankZero(const ExperimentConfig& config) {
  return !config.has_distributed() || config.distributed().rank() == 0;
}

absl::StatusOr<ExperimentSummary> RunExperiment(const ExperimentConfig& config,
                                                const MethodFactory& factory,
                                                const RunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  MC_ASSIGN_OR_RETURN(distributed::ProcessGroup* const group,
                      RunProcessGroup(config, options.process_group));
  ExperimentRun run(config, options, group, start);
  MC_RETURN_IF_ERROR(run.PrepareOutputDir());
  MC_RETURN_IF_ERROR(run.LoadData());
  MC_RETURN_IF_ERROR(run.BuildMethod(factory));
  MC_RETURN_IF_ERROR(run.Resume());
  MC_RETURN_IF_ERROR(run.StartTraining());
  const int32_t epochs = config.training().epochs();
  for (int32_t epoch = run.first_epoch(); epoch < epochs; ++epoch) {
    MC_RETURN_IF_ERROR(run.RunEpoch(epoch));
    if (options.stop_after_epochs > 0 && epoch + 1 == options.stop_after_epochs &&
        epoch + 1 < epochs) {
      return absl::AbortedError(absl::StrCat("stopped after epoch ", epoch + 1,
                                             " as requested; continue with --resume"));
    }
  }
  return run.WriteResults();
}

}  // namespace mc::experiments
