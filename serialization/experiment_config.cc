#include "serialization/experiment_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "serialization/atomic_file.h"

namespace mc::serialization {
namespace {

// Collects the parser's messages instead of letting protobuf log them.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    errors_.push_back(absl::StrCat("line ", line + 1, " column ", column + 1, ": ", message));
  }
  void AddWarning(int line, int column, const std::string& message) override {
    AddError(line, column, message);
  }
  std::string Joined() const { return absl::StrJoin(errors_, "; "); }

 private:
  std::vector<std::string> errors_;
};

// A data set name and the loader's worker count.
absl::Status ValidateDataConfig(const DataConfig& data) {
  // The names are data/dataset_info.h's, checked where a data set is opened.
  if (data.dataset().empty()) return absl::InvalidArgumentError("data.dataset is empty");
  MC_RETURN_IF_ERROR(
      CheckRange("data.vocabulary_size", data.vocabulary_size(), Range::Closed(0, 10000000)));
  return CheckRange("data.workers", data.workers(), Range::Closed(0, 64));
}

// A model name, the channel and class counts, and the dropout probability.
absl::Status ValidateModelConfig(const ModelConfig& model) {
  if (model.name().empty()) return absl::InvalidArgumentError("model.name is empty");
  MC_RETURN_IF_ERROR(CheckRange("model.in_channels", model.in_channels(), Range::Closed(0, 4096)));
  MC_RETURN_IF_ERROR(CheckRange("model.num_classes", model.num_classes(), Range::Closed(0, 1000000)));
  MC_RETURN_IF_ERROR(CheckRange("model.dropout", model.dropout(), Range::RightOpen(0, 1)));
  return absl::OkStatus();
}

// The optimizer and its hyperparameters: lr, momentum, nesterov and weight decay.
absl::Status ValidateOptimizer(const TrainingConfig& training) {
  if (training.optimizer() == TrainingConfig::OPTIMIZER_UNSPECIFIED) {
    return absl::InvalidArgumentError("training.optimizer is not set: allowed SGD, ADAM");
  }
  MC_RETURN_IF_ERROR(CheckRange("training.lr", training.lr(), Range::LeftOpen(0, 100)));
  MC_RETURN_IF_ERROR(CheckRange("training.momentum", training.momentum(), Range::RightOpen(0, 1)));
  if (training.nesterov() &&
      (training.optimizer() != TrainingConfig::SGD || training.momentum() == 0)) {
    return absl::InvalidArgumentError(
        "training.nesterov needs optimizer SGD with a momentum above 0");
  }
  MC_RETURN_IF_ERROR(CheckRange("training.weight_decay", training.weight_decay(), Range::RightOpen(0, 1)));
  return absl::OkStatus();
}

// The learning-rate schedule (with the STEP schedule's period and factor) and the warm-up.
absl::Status ValidateLrSchedule(const TrainingConfig& training) {
  if (training.lr_schedule() == TrainingConfig::LR_SCHEDULE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "training.lr_schedule is not set: allowed CONSTANT, STEP, COSINE");
  }
  if (training.lr_schedule() == TrainingConfig::STEP) {
    MC_RETURN_IF_ERROR(
        CheckRange("training.lr_step_epochs", training.lr_step_epochs(), Range::Closed(1, 10000)));
    MC_RETURN_IF_ERROR(CheckRange("training.lr_gamma", training.lr_gamma(), Range::LeftOpen(0, 1)));
  }
  MC_RETURN_IF_ERROR(CheckRange("training.warmup_epochs", training.warmup_epochs(), Range::Closed(0, 1000)));
  return absl::OkStatus();
}

// Every field of the training section, in the order the checks report them.
absl::Status ValidateTrainingConfig(const TrainingConfig& training) {
  MC_RETURN_IF_ERROR(CheckRange("training.epochs", training.epochs(), Range::Closed(0, 10000)));
  MC_RETURN_IF_ERROR(CheckRange("training.batch_size", training.batch_size(), Range::Closed(1, 65536)));
  MC_RETURN_IF_ERROR(
      CheckRange("training.eval_batch_size", training.eval_batch_size(), Range::Closed(1, 65536)));
  MC_RETURN_IF_ERROR(ValidateOptimizer(training));
  MC_RETURN_IF_ERROR(ValidateLrSchedule(training));
  MC_RETURN_IF_ERROR(CheckRange("training.threads", training.threads(), Range::Closed(0, 256)));
  if (training.has_bptt()) {
    MC_RETURN_IF_ERROR(CheckRange("training.bptt", training.bptt(), Range::Closed(1, 100000)));
  }
  MC_RETURN_IF_ERROR(
      CheckRange("training.grad_clip_norm", training.grad_clip_norm(), Range::Closed(0, 1e6)));
  if (!TrainingConfig::MemoryFormat_IsValid(training.memory_format())) {
    return absl::InvalidArgumentError(absl::StrCat("training.memory_format = ",
                                                   training.memory_format(),
                                                   " is unknown: allowed CHANNELS_LAST, CONTIGUOUS"));
  }
  return CheckRange("training.max_train_batches", training.max_train_batches(), Range::Closed(0, 1 << 30));
}

// The data-parallel section, and that training.batch_size splits evenly between the ranks.
absl::Status ValidateDistributedConfig(const DistributedConfig& distributed,
                                       const TrainingConfig& training) {
  MC_RETURN_IF_ERROR(CheckRange("distributed.world_size", distributed.world_size(), Range::Closed(1, 1024)));
  MC_RETURN_IF_ERROR(
      CheckRange("distributed.rank", distributed.rank(), Range::Closed(0, distributed.world_size() - 1)));
  if (distributed.master_addr().empty()) {
    return absl::InvalidArgumentError("distributed.master_addr is empty");
  }
  MC_RETURN_IF_ERROR(CheckRange("distributed.master_port", distributed.master_port(), Range::Closed(1, 65535)));
  MC_RETURN_IF_ERROR(
      CheckRange("distributed.timeout_seconds", distributed.timeout_seconds(), Range::Closed(1, 86400)));
  if (training.batch_size() % distributed.world_size() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "training.batch_size = ", training.batch_size(),
        " is not a multiple of distributed.world_size = ", distributed.world_size(),
        ": each rank trains on batch_size / world_size examples of every global batch"));
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// Integers as integers (1073741824, not 1.07374e+09); other values as StrCat writes them.
std::string FormatNumber(double value) {
  if (std::abs(value) < 1e15 && value == std::floor(value)) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrCat(value);
}

}  // namespace

bool Range::Contains(double value) const {
  const bool above_low = low_open ? value > low : value >= low;
  const bool below_high = high_open ? value < high : value <= high;
  return above_low && below_high;
}

std::string Range::ToString() const {
  if (high == kUnbounded) return absl::StrCat(low_open ? "> " : ">= ", FormatNumber(low));
  return absl::StrCat(low_open ? "(" : "[", FormatNumber(low), ", ", FormatNumber(high),
                      high_open ? ")" : "]");
}

absl::Status CheckRange(absl::string_view field, double value, const Range& range) {
  if (range.Contains(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " = ", FormatNumber(value),
                                                 " is out of range: allowed ", range.ToString()));
}

absl::Status CheckChoice(absl::string_view field, absl::string_view value,
                         const std::vector<std::string>& choices) {
  for (const std::string& choice : choices) {
    if (value == choice) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, " = \"", value, "\" is not one of ", absl::StrJoin(choices, ", ")));
}

absl::Status MergeExperimentConfigText(absl::string_view text, absl::string_view source,
                                       ExperimentConfig& config) {
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  ExperimentConfig parsed;
  if (!parser.ParseFromString(std::string(text), &parsed)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid experiment config ", source, ": ", errors.Joined()));
  }
  config.MergeFrom(parsed);
  return absl::OkStatus();
}

absl::Status MergeExperimentConfigFile(const std::string& path, ExperimentConfig& config) {
  MC_ASSIGN_OR_RETURN(const std::string text, ReadFileToString(path));
  return MergeExperimentConfigText(text, path, config);
}

absl::Status ValidateExperimentConfig(const ExperimentConfig& config) {
  MC_RETURN_IF_ERROR(ValidateDataConfig(config.data()));
  MC_RETURN_IF_ERROR(ValidateModelConfig(config.model()));
  MC_RETURN_IF_ERROR(ValidateTrainingConfig(config.training()));
  if (config.output().dir().empty()) return absl::InvalidArgumentError("output.dir is empty");
  if (config.has_distributed()) {
    MC_RETURN_IF_ERROR(ValidateDistributedConfig(config.distributed(), config.training()));
  }
  return absl::OkStatus();
}

std::string ExperimentConfigToText(const ExperimentConfig& config) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  return text;
}

}  // namespace mc::serialization
