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

absl::Status OutOfRange(absl::string_view field, double value, absl::string_view range) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, " = ", value, " is out of range: allowed ", range));
}

absl::Status CheckIntRange(absl::string_view field, int64_t value, int64_t low, int64_t high) {
  if (value < low || value > high) {
    return OutOfRange(field, static_cast<double>(value), absl::StrCat("[", low, ", ", high, "]"));
  }
  return absl::OkStatus();
}

// A known data set and the loader's worker count.
absl::Status ValidateDataConfig(const DataConfig& data) {
  static const char* const kDatasets[] = {"cifar10", "cifar100", "fashion_mnist", "mnist",
                                          "synthetic"};
  bool known_dataset = false;
  for (const char* name : kDatasets) known_dataset = known_dataset || data.dataset() == name;
  if (!known_dataset) {
    return absl::InvalidArgumentError(
        absl::StrCat("data.dataset = \"", data.dataset(), "\" is not one of ",
                     absl::StrJoin(kDatasets, ", ")));
  }
  return CheckIntRange("data.workers", data.workers(), 0, 64);
}

// A model name, the channel and class counts, and the dropout probability.
absl::Status ValidateModelConfig(const ModelConfig& model) {
  if (model.name().empty()) return absl::InvalidArgumentError("model.name is empty");
  MC_RETURN_IF_ERROR(CheckIntRange("model.in_channels", model.in_channels(), 0, 4096));
  MC_RETURN_IF_ERROR(CheckIntRange("model.num_classes", model.num_classes(), 0, 1000000));
  if (!(model.dropout() >= 0 && model.dropout() < 1)) {
    return OutOfRange("model.dropout", model.dropout(), "[0, 1)");
  }
  return absl::OkStatus();
}

// The optimizer and its hyperparameters: lr, momentum, nesterov and weight decay.
absl::Status ValidateOptimizer(const TrainingConfig& training) {
  if (training.optimizer() == TrainingConfig::OPTIMIZER_UNSPECIFIED) {
    return absl::InvalidArgumentError("training.optimizer is not set: allowed SGD, ADAM");
  }
  if (!(training.lr() > 0 && training.lr() <= 10)) {
    return OutOfRange("training.lr", training.lr(), "(0, 10]");
  }
  if (!(training.momentum() >= 0 && training.momentum() < 1)) {
    return OutOfRange("training.momentum", training.momentum(), "[0, 1)");
  }
  if (training.nesterov() &&
      (training.optimizer() != TrainingConfig::SGD || training.momentum() == 0)) {
    return absl::InvalidArgumentError(
        "training.nesterov needs optimizer SGD with a momentum above 0");
  }
  if (!(training.weight_decay() >= 0 && training.weight_decay() < 1)) {
    return OutOfRange("training.weight_decay", training.weight_decay(), "[0, 1)");
  }
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
        CheckIntRange("training.lr_step_epochs", training.lr_step_epochs(), 1, 10000));
    if (!(training.lr_gamma() > 0 && training.lr_gamma() <= 1)) {
      return OutOfRange("training.lr_gamma", training.lr_gamma(), "(0, 1]");
    }
  }
  if (!(training.warmup_epochs() >= 0 && training.warmup_epochs() <= 1000)) {
    return OutOfRange("training.warmup_epochs", training.warmup_epochs(), "[0, 1000]");
  }
  return absl::OkStatus();
}

// Every field of the training section, in the order the checks report them.
absl::Status ValidateTrainingConfig(const TrainingConfig& training) {
  MC_RETURN_IF_ERROR(CheckIntRange("training.epochs", training.epochs(), 0, 10000));
  MC_RETURN_IF_ERROR(CheckIntRange("training.batch_size", training.batch_size(), 1, 65536));
  MC_RETURN_IF_ERROR(
      CheckIntRange("training.eval_batch_size", training.eval_batch_size(), 1, 65536));
  MC_RETURN_IF_ERROR(ValidateOptimizer(training));
  MC_RETURN_IF_ERROR(ValidateLrSchedule(training));
  MC_RETURN_IF_ERROR(CheckIntRange("training.threads", training.threads(), 0, 256));
  if (!TrainingConfig::MemoryFormat_IsValid(training.memory_format())) {
    return absl::InvalidArgumentError(absl::StrCat("training.memory_format = ",
                                                   training.memory_format(),
                                                   " is unknown: allowed CHANNELS_LAST, CONTIGUOUS"));
  }
  return CheckIntRange("training.max_train_batches", training.max_train_batches(), 0, 1 << 30);
}

// The data-parallel section, and that training.batch_size splits evenly between the ranks.
absl::Status ValidateDistributedConfig(const DistributedConfig& distributed,
                                       const TrainingConfig& training) {
  MC_RETURN_IF_ERROR(CheckIntRange("distributed.world_size", distributed.world_size(), 1, 1024));
  MC_RETURN_IF_ERROR(
      CheckIntRange("distributed.rank", distributed.rank(), 0, distributed.world_size() - 1));
  if (distributed.master_addr().empty()) {
    return absl::InvalidArgumentError("distributed.master_addr is empty");
  }
  MC_RETURN_IF_ERROR(CheckIntRange("distributed.master_port", distributed.master_port(), 1, 65535));
  MC_RETURN_IF_ERROR(
      CheckIntRange("distributed.timeout_seconds", distributed.timeout_seconds(), 1, 86400));
  if (training.batch_size() % distributed.world_size() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "training.batch_size = ", training.batch_size(),
        " is not a multiple of distributed.world_size = ", distributed.world_size(),
        ": each rank trains on batch_size / world_size examples of every global batch"));
  }
  return absl::OkStatus();
}

}  // namespace

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
