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
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/cpu_threads.h"
#include "common/status_macros.h"
#include "data/loader.h"
#include "distributed/process_group.h"
#include "experiments/lr_schedule.h"
#include "experiments/progress.h"
#include "nn_models/memory_format.h"
#include "nn_models/model_config.h"
#include "model_io/model_loading.h"
#include "serialization/atomic_file.h"
#include "serialization/event_writer.h"
#include "serialization/experiment_config.h"
#include "serialization/json.h"
#include "serialization/model_file.h"

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

// Accuracy and mean cross-entropy of `logits_of` over a loader's epoch.
struct Evaluation {
  double loss = 0;
  double accuracy = 0;
};

Evaluation Evaluate(data::ImageLoader& loader,
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

// The configuration a checkpoint records and must match to be resumed: how the ranks meet
// (this process's rank, rank 0's address and port, the timeout) may change between launches.
std::string CheckpointConfigText(ExperimentConfig config) {
  if (config.has_distributed()) {
    serialization::DistributedConfig& distributed = *config.mutable_distributed();
    distributed.clear_rank();
    distributed.clear_master_addr();
    distributed.clear_master_port();
    distributed.clear_timeout_seconds();
  }
  return serialization::ExperimentConfigToText(config);
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
    torch::serialize::OutputArchive method_archive;
    method.Save(method_archive);
    archive.write("method", method_archive);
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
  std::string saved_config;
  MC_RETURN_IF_ERROR(TorchCall(absl::StrCat("reading checkpoint ", path), [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(bytes.data(), bytes.size());
    c10::IValue value;
    archive.read("config", value);
    saved_config = value.toStringRef();
    if (saved_config != config_text) return;
    archive.read("completed_epochs", value);
    progress.completed_epochs = static_cast<int32_t>(value.toInt());
    if (archive.try_read("wall_seconds", value)) progress.wall_seconds = value.toDouble();
    at::Tensor rng_state;
    archive.read("rng_state", rng_state);
    torch::serialize::InputArchive method_archive;
    archive.read("method", method_archive);
    method.Load(method_archive);
    SetGeneratorState(rng_state);
  }));
  if (saved_config != config_text) {
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
      {"test/loss", metrics.test_loss()},
      {"test/accuracy", metrics.test_accuracy()},
      {"lr", metrics.lr()},
      {"images_per_second", metrics.images_per_second()},
      {"epoch_seconds", metrics.epoch_seconds()},
  };
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

// Rank 0's `value`, or its error, on every rank (the others pass anything and wait here while
// rank 0 works alone), so that a failure of rank 0 ends every rank.
absl::StatusOr<std::string> FromRankZero(distributed::ProcessGroup* group,
                                         const absl::StatusOr<std::string>& value) {
  if (group == nullptr) return value;
  std::string message;
  if (group->rank() == 0) message = value.ok() ? "+" + *value : "-" + value.status().ToString();
  MC_RETURN_IF_ERROR(group->BroadcastBytes(message));
  if (group->rank() == 0) return value;
  if (message.empty() || message[0] != '+') {
    return absl::AbortedError(absl::StrCat("rank 0 failed: ", message.substr(message.empty() ? 0 : 1)));
  }
  return message.substr(1);
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
  const bool rank_zero = group == nullptr || group->rank() == 0;
  std::ostream silent(nullptr);  // the other ranks' progress goes nowhere
  std::ostream& log = rank_zero ? *options.log : silent;
  const serialization::TrainingConfig& training = config.training();
  const std::string& dir = config.output().dir();
  const std::string config_text = CheckpointConfigText(config);
  if (rank_zero) {
    MC_RETURN_IF_ERROR(serialization::CreateDirectories(dir));
    // A run killed while writing (e.g. its checkpoint) leaves a temporary file beside it.
    MC_ASSIGN_OR_RETURN(const int stale_files, serialization::RemoveStaleTemporaryFiles(dir));
    if (stale_files > 0) {
      log << "removed " << stale_files << " unfinished temporary files from " << dir << std::endl;
    }
    MC_RETURN_IF_ERROR(serialization::WriteFileAtomically(
        absl::StrCat(dir, "/", kConfigFile), serialization::ExperimentConfigToText(config)));
  }

  ConfigureCpuThreads(training.threads());
  MC_ASSIGN_OR_RETURN(const data::DatasetInfo dataset, data::GetDatasetInfo(config.data().dataset()));
  MC_ASSIGN_OR_RETURN(data::ImageData train_data,
                      data::LoadImageData(dataset.name, config.data().data_dir(), data::Split::kTrain));
  // Both loaders share the images: the whole set for calibration, this rank's slice to train.
  const data::ImageLoader train_loader(train_data, dataset, TrainLoaderOptions(config));
  const data::ImageLoader shard_loader(std::move(train_data), dataset, ShardLoaderOptions(config));
  std::optional<data::ImageLoader> test_loader;  // rank 0 alone evaluates
  if (rank_zero) {
    MC_ASSIGN_OR_RETURN(data::ImageData test_data,
                        data::LoadImageData(dataset.name, config.data().data_dir(), data::Split::kTest));
    test_loader.emplace(std::move(test_data), dataset, TestLoaderOptions(config));
  }

  at::manual_seed(training.seed());
  MC_ASSIGN_OR_RETURN(std::shared_ptr<nn_models::Classifier> model,
                      model_io::BuildModel(config.model(), dataset));
  const bool channels_last = training.memory_format() == serialization::TrainingConfig::CHANNELS_LAST;
  if (channels_last) nn_models::ToChannelsLast(*model);
  // The batches in the model's layout.
  const auto model_input = [channels_last](const at::Tensor& images) {
    return channels_last ? nn_models::ChannelsLast(images) : images;
  };
  MC_ASSIGN_OR_RETURN(std::unique_ptr<TrainingMethod> method,
                      factory(MethodContext{config, dataset, model, train_loader}));
  int64_t gradient_syncs = 0;
  if (group != nullptr) {
    method->set_gradient_sync([group, &gradient_syncs](const std::vector<at::Tensor>& parameters) {
      const absl::Status status = group->AverageGradients(parameters);
      TORCH_CHECK(status.ok(), status.message());
      ++gradient_syncs;
    });
  }

  const std::string checkpoint_path = absl::StrCat(dir, "/", kCheckpointFile);
  const std::string metrics_path = absl::StrCat(dir, "/", kMetricsFile);
  int32_t first_epoch = 0;
  double resumed_seconds = 0;  // spent by earlier processes on the epochs resumed from
  if (options.resume) {
    // Rank 0's checkpoint, if any, resumes every rank.
    absl::StatusOr<std::string> checkpoint = std::string();
    if (rank_zero && FileSize(checkpoint_path) > 0) {
      checkpoint = serialization::ReadFileToString(checkpoint_path);
    }
    MC_ASSIGN_OR_RETURN(const std::string bytes, FromRankZero(group, checkpoint));
    if (!bytes.empty()) {
      MC_ASSIGN_OR_RETURN(const CheckpointProgress progress,
                          LoadCheckpoint(bytes, checkpoint_path, config_text, *method));
      first_epoch = progress.completed_epochs;
      resumed_seconds = progress.wall_seconds;
      log << "resuming " << dir << " after epoch " << first_epoch << std::endl;
    }
  }
  // The run's seconds so far, over this process and those it resumed from.
  const auto wall_seconds = [start, resumed_seconds] {
    return resumed_seconds +
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (rank_zero) MC_RETURN_IF_ERROR(TruncateMetrics(metrics_path, first_epoch));
  // Rank 0 writes a new events file for every run, resumed or not (see runner.h).
  std::optional<serialization::EventWriter> events;
  if (rank_zero) {
    MC_ASSIGN_OR_RETURN(serialization::EventWriter writer, serialization::EventWriter::Create(dir));
    events.emplace(std::move(writer));
  }
  MC_RETURN_IF_ERROR(ShareReplicatedTensors(group, *method));
  MC_RETURN_IF_ERROR(ShareGeneratorState(group));

  int64_t steps_per_epoch = shard_loader.num_batches();
  if (training.max_train_batches() > 0) {
    steps_per_epoch = std::min<int64_t>(steps_per_epoch, training.max_train_batches());
  }
  const double total_steps = static_cast<double>(training.epochs()) * steps_per_epoch;
  std::vector<std::vector<double>> initial_lrs;
  for (torch::optim::Optimizer* optimizer : method->ScheduledOptimizers()) {
    std::vector<double> group_lrs;
    for (const auto& param_group : optimizer->param_groups()) {
      group_lrs.push_back(param_group.options().get_lr());
    }
    initial_lrs.push_back(group_lrs);
  }
  const auto set_learning_rate = [&](double lr) {
    const std::vector<torch::optim::Optimizer*> optimizers = method->ScheduledOptimizers();
    for (size_t i = 0; i < optimizers.size(); ++i) {
      auto& groups = optimizers[i]->param_groups();
      for (size_t g = 0; g < groups.size(); ++g) {
        groups[g].options().set_lr(initial_lrs[i][g] * lr / training.lr());
      }
    }
  };
  const auto eval_logits = [&](const at::Tensor& images) {
    return method->EvalLogits(model_input(images));
  };

  const bool interactive = rank_zero && IsTerminal(stdout) && options.log == &std::cout;
  for (int32_t epoch = first_epoch; epoch < training.epochs(); ++epoch) {
    ProgressBar bar(absl::StrFormat("epoch %d/%d", epoch + 1, training.epochs()), steps_per_epoch,
                    log, interactive);
    double loss_sum = 0;
    int64_t correct = 0;
    int64_t seen = 0;
    int64_t step_in_epoch = 0;
    // Since the last per-step event.
    double window_loss_sum = 0;
    int64_t window_correct = 0;
    int64_t window_seen = 0;
    double lr = training.lr();
    absl::Status step_status;
    shard_loader.ForEachBatch(epoch, [&](const at::Tensor& images, const at::Tensor& labels) {
      const int64_t step = epoch * steps_per_epoch + step_in_epoch;
      lr = LearningRateAt(training, step, steps_per_epoch);
      set_learning_rate(lr);
      method->SetTrainingProgress(static_cast<double>(step) / total_steps);
      StepResult result;
      const int64_t syncs_before = gradient_syncs;
      step_status = TorchCall("training step", [&] {
        result = method->TrainStep(model_input(images), labels);
      });
      if (!step_status.ok()) return false;
      if (group != nullptr && gradient_syncs == syncs_before) {
        step_status = absl::FailedPreconditionError(absl::StrCat(
            "method \"", method->name(),
            "\" took a training step without averaging its gradients over the ranks "
            "(TrainingMethod::gradient_sync); it cannot train data-parallel"));
        return false;
      }
      const double loss = result.loss.item<double>();
      if (!std::isfinite(loss)) {
        step_status = absl::InternalError(absl::StrFormat(
            "the training loss became %f at epoch %d step %d; stopping (the last checkpoint, "
            "if any, is kept; try a lower --lr)",
            loss, epoch + 1, step_in_epoch + 1));
        return false;
      }
      const int64_t batch_correct =
          result.logits.detach().argmax(1).eq(labels).sum().item<int64_t>();
      loss_sum += loss * labels.size(0);
      correct += batch_correct;
      seen += labels.size(0);
      window_loss_sum += loss * labels.size(0);
      window_correct += batch_correct;
      window_seen += labels.size(0);
      ++step_in_epoch;
      bar.Update(step_in_epoch, seen, loss_sum / seen, static_cast<double>(correct) / seen);
      if (events && step_in_epoch % kStepEventInterval == 0) {
        step_status = events->WriteScalars(
            epoch * steps_per_epoch + step_in_epoch,
            {{"train/step_loss", window_loss_sum / window_seen},
             {"train/step_accuracy", static_cast<double>(window_correct) / window_seen}});
        if (!step_status.ok()) return false;
        window_loss_sum = 0;
        window_correct = 0;
        window_seen = 0;
      }
      return step_in_epoch < steps_per_epoch;
    });
    MC_RETURN_IF_ERROR(step_status);
    const double train_seconds = bar.elapsed_seconds();
    if (group != nullptr) {
      at::Tensor sums = at::tensor({loss_sum, static_cast<double>(correct), static_cast<double>(seen)},
                                   at::kDouble);
      MC_RETURN_IF_ERROR(group->AllReduceSum({sums}));
      loss_sum = sums[0].item<double>();
      correct = static_cast<int64_t>(sums[1].item<double>());
      seen = static_cast<int64_t>(sums[2].item<double>());
    }
    MC_RETURN_IF_ERROR(ShareReplicatedTensors(group, *method));

    const auto evaluate_and_save = [&]() -> absl::Status {
      Evaluation test;
      MC_RETURN_IF_ERROR(TorchCall("evaluation", [&] { test = Evaluate(*test_loader, eval_logits); }));
      bar.Finish(absl::StrFormat("test loss %.4f acc %.4f", test.loss, test.accuracy));
      EpochMetrics metrics;
      metrics.set_epoch(epoch + 1);
      metrics.set_train_loss(seen > 0 ? loss_sum / seen : 0);
      metrics.set_train_accuracy(seen > 0 ? static_cast<double>(correct) / seen : 0);
      metrics.set_test_loss(test.loss);
      metrics.set_test_accuracy(test.accuracy);
      metrics.set_lr(lr);
      metrics.set_images_per_second(train_seconds > 0 ? seen / train_seconds : 0);
      metrics.set_epoch_seconds(bar.elapsed_seconds());
      for (const auto& [key, value] : method->EpochExtras()) (*metrics.mutable_extra())[key] = value;
      MC_RETURN_IF_ERROR(
          serialization::AppendToFile(metrics_path, serialization::ToJsonLine(metrics) + "\n"));
      MC_RETURN_IF_ERROR(
          WriteEpochEvents(*events, epoch * steps_per_epoch + step_in_epoch, metrics, *method));
      return SaveCheckpoint(checkpoint_path, {epoch + 1, wall_seconds()}, config_text, *method);
    };
    absl::Status epoch_status;
    if (rank_zero) epoch_status = evaluate_and_save();
    MC_RETURN_IF_ERROR(
        FromRankZero(group, epoch_status.ok() ? absl::StatusOr<std::string>("") : epoch_status).status());
    MC_RETURN_IF_ERROR(ShareGeneratorState(group));
    if (options.stop_after_epochs > 0 && epoch + 1 == options.stop_after_epochs &&
        epoch + 1 < training.epochs()) {
      return absl::AbortedError(absl::StrCat("stopped after epoch ", epoch + 1,
                                             " as requested; continue with --resume"));
    }
  }

  // Write the compressed model, then evaluate what was written (rank 0).
  const auto write_results = [&]() -> absl::StatusOr<ExperimentSummary> {
    CompressedResult compressed;
    MC_RETURN_IF_ERROR(TorchCall("compressing the model", [&] { compressed = method->Compress(); }));
    serialization::CompressedModel& stored = compressed.model;
    // A method may record the format-level method of its encoder (e.g. "uniform" for QAT).
    if (stored.method().empty()) stored.set_method(method->name());
    *stored.mutable_model() = config.model();
    stored.mutable_model()->set_in_channels(
        config.model().in_channels() > 0 ? config.model().in_channels() : dataset.channels);
    stored.mutable_model()->set_num_classes(
        config.model().num_classes() > 0 ? config.model().num_classes() : dataset.num_classes);
    stored.set_dataset(dataset.name);
    const std::string model_path = absl::StrCat(dir, "/", kModelFile);
    MC_RETURN_IF_ERROR(serialization::WriteModelFile(model_path, stored));

    MC_ASSIGN_OR_RETURN(const serialization::CompressedModel read_back,
                        serialization::ReadModelFile(model_path));
    MC_ASSIGN_OR_RETURN(std::shared_ptr<nn_models::Classifier> restored,
                        model_io::BuildModel(read_back.model(), dataset));
    MC_RETURN_IF_ERROR(method->Restore(read_back, *restored));
    Evaluation file_eval;
    MC_RETURN_IF_ERROR(TorchCall("evaluating the written model", [&] {
      restored->eval();
      file_eval = Evaluate(*test_loader, [&](const at::Tensor& images) {
        return restored->forward(model_input(images));
      });
    }));

    ExperimentSummary summary;
    summary.set_experiment(config.experiment());
    summary.set_dataset(dataset.name);
    summary.set_model(config.model().name());
    summary.set_method(method->name());
    summary.set_test_accuracy(file_eval.accuracy);
    summary.set_float_model_size_mb(model_io::FloatModelSizeMb(*restored));
    summary.set_model_size_mb(compressed.model_size_mb);
    summary.set_compression_ratio(
        compressed.model_size_mb > 0 ? summary.float_model_size_mb() / compressed.model_size_mb : 0);
    summary.set_model_file(model_path);
    summary.set_compressed_file_bytes(FileSize(model_path));
    summary.set_epochs(training.epochs());
    summary.set_seed(training.seed());
    for (const auto& layer : compressed.layers) *summary.add_layers() = layer;
    *summary.mutable_config() = config;
    method->FillSummary(summary);
    summary.set_wall_seconds(wall_seconds());
    MC_RETURN_IF_ERROR(serialization::WriteJsonFile(absl::StrCat(dir, "/", kSummaryFile), summary));
    return summary;
  };
  if (group == nullptr) return write_results();
  // Every rank returns rank 0's summary.
  absl::StatusOr<std::string> summary_bytes = std::string();
  if (rank_zero) {
    absl::StatusOr<ExperimentSummary> summary = write_results();
    summary_bytes = summary.ok() ? absl::StatusOr<std::string>(summary->SerializeAsString())
                                 : summary.status();
  }
  MC_ASSIGN_OR_RETURN(const std::string bytes, FromRankZero(group, summary_bytes));
  ExperimentSummary summary;
  if (!summary.ParseFromString(bytes)) return absl::DataLossError("rank 0's summary did not parse");
  return summary;
}

}  // namespace mc::experiments
