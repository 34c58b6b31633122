#include "experiments/config_flags.h"

#include <cstdint>
#include <ctime>
#include <optional>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "data/dataset_info.h"
#include "serialization/experiment_config.h"

ABSL_FLAG(std::optional<std::string>, config, std::nullopt, "Experiment configuration (textproto); flags override it.");
ABSL_FLAG(std::optional<std::string>, dataset, std::nullopt, "cifar10 | cifar100 | fashion_mnist | mnist | synthetic; text corpora: kjv | ptb | wikitext2 | wikitext103.");
ABSL_FLAG(std::optional<std::string>, data_dir, std::nullopt, "Directory of the data set files (default: its usual place).");
ABSL_FLAG(std::optional<std::string>, model, std::nullopt,
          "Model name from the registry, e.g. resnet20, or the TorchScript file (.pt, .pth) of a "
          "model written in Python.");
ABSL_FLAG(std::optional<int32_t>, epochs, std::nullopt, "Training epochs.");
ABSL_FLAG(std::optional<int32_t>, batch_size, std::nullopt, "Training batch size.");
ABSL_FLAG(std::optional<double>, lr, std::nullopt, "Initial learning rate.");
ABSL_FLAG(std::optional<double>, warmup_epochs, std::nullopt, "Linear learning-rate warm-up, in epochs (default 0: none).");
ABSL_FLAG(std::optional<int32_t>, max_train_batches, std::nullopt, "Stop every training epoch after this many batches (0: no limit).");
ABSL_FLAG(std::optional<int32_t>, threads, std::nullopt, "Intra-op threads (0: one per hardware thread).");
ABSL_FLAG(std::optional<std::string>, memory_format, std::nullopt, "channels_last (default) | contiguous: layout of weights and batches.");
ABSL_FLAG(std::optional<int32_t>, workers, std::nullopt, "Data loader worker threads.");
ABSL_FLAG(std::optional<int32_t>, eval_batch_size, std::nullopt, "Evaluation batch size (streams for language models).");
ABSL_FLAG(std::optional<int32_t>, bptt, std::nullopt, "Language models: time steps per window (default 35).");
ABSL_FLAG(std::optional<double>, grad_clip_norm, std::nullopt, "Clip the gradients' global L2 norm to this (0: never).");
ABSL_FLAG(std::optional<int32_t>, vocabulary_size, std::nullopt, "Text corpora: words kept in the vocabulary (0: all).");
ABSL_FLAG(std::optional<uint32_t>, seed, std::nullopt, "Seed of every random choice of the run.");
ABSL_FLAG(std::optional<std::string>, output_dir, std::nullopt, "Directory for checkpoints, metrics and results.");
ABSL_FLAG(bool, resume, false, "Continue from the checkpoint in --output_dir if there is one.");
ABSL_FLAG(std::optional<int32_t>, world_size, std::nullopt, "Data-parallel processes (default 1).");
ABSL_FLAG(std::optional<int32_t>, rank, std::nullopt, "This process's rank in [0, world_size); rank 0 writes the outputs.");
ABSL_FLAG(std::optional<std::string>, master_addr, std::nullopt, "Address of rank 0, reachable from every rank (default 127.0.0.1).");
ABSL_FLAG(std::optional<int32_t>, master_port, std::nullopt, "Port of rank 0's rendezvous store (default 29500).");

namespace mc::experiments {
namespace {

using serialization::ExperimentConfig;

std::string Timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm local;
  localtime_r(&now, &local);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y%m%d-%H%M%S", &local);
  return buffer;
}

// --model: a registry name, or the TorchScript file of a model written in Python, which the
// file's name (without its extension) then labels.
void SetModel(const std::string& value, serialization::ModelConfig& model) {
  if (!absl::EndsWith(value, ".pt") && !absl::EndsWith(value, ".pth")) {
    model.set_name(value);
    return;
  }
  model.set_torchscript_file(value);
  const std::string file = value.substr(value.find_last_of('/') + 1);
  model.set_name(file.substr(0, file.find_last_of('.')));
}

// The distributed section from the flags, over the --config file's, with defaults for the
// fields neither sets; left out when neither mentions it (a single process).
void ApplyDistributedFlags(ExperimentConfig& config) {
  const auto world_size = absl::GetFlag(FLAGS_world_size);
  const auto rank = absl::GetFlag(FLAGS_rank);
  const auto master_addr = absl::GetFlag(FLAGS_master_addr);
  const auto master_port = absl::GetFlag(FLAGS_master_port);
  if (!config.has_distributed() && !world_size && !rank && !master_addr && !master_port) return;
  serialization::DistributedConfig& distributed = *config.mutable_distributed();
  if (world_size) distributed.set_world_size(*world_size);
  if (rank) distributed.set_rank(*rank);
  if (master_addr) distributed.set_master_addr(*master_addr);
  if (master_port) distributed.set_master_port(*master_port);
  if (!distributed.has_world_size()) distributed.set_world_size(1);
  if (!distributed.has_rank()) distributed.set_rank(0);
  if (!distributed.has_master_addr()) distributed.set_master_addr("127.0.0.1");
  if (!distributed.has_master_port()) distributed.set_master_port(29500);
  if (!distributed.has_timeout_seconds()) distributed.set_timeout_seconds(1800);
}

// Sets `field` of `message` from a flag's text (a comma-separated list for a repeated string).
absl::Status SetField(const std::string& text, const google::protobuf::FieldDescriptor& field,
                      google::protobuf::Message& message) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection& reflection = *message.GetReflection();
  int32_t int32_value = 0;
  uint32_t uint32_value = 0;
  double double_value = 0;
  bool bool_value = false;
  bool parsed = true;
  if (field.is_repeated() && field.cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    reflection.ClearField(&message, &field);
    for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
      reflection.AddString(&message, &field, std::string(item));
    }
  } else if (field.is_repeated()) {
    parsed = false;
  } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    reflection.SetString(&message, &field, text);
  } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_INT32 && absl::SimpleAtoi(text, &int32_value)) {
    reflection.SetInt32(&message, &field, int32_value);
  } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_UINT32 && absl::SimpleAtoi(text, &uint32_value)) {
    reflection.SetUInt32(&message, &field, uint32_value);
  } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE && absl::SimpleAtod(text, &double_value)) {
    reflection.SetDouble(&message, &field, double_value);
  } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_BOOL && absl::SimpleAtob(text, &bool_value)) {
    reflection.SetBool(&message, &field, bool_value);
  } else {
    parsed = false;
  }
  if (!parsed) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" does not fit ", field.full_name(),
                                                   " (", field.cpp_type_name(), ")"));
  }
  return absl::OkStatus();
}

absl::Status ApplyFlag(const FlagField& entry, ExperimentConfig& config) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(entry.flag);
  if (flag == nullptr) return absl::InternalError(absl::StrCat("no flag --", entry.flag));
  const std::string text = flag->CurrentValue();
  if (text.empty()) return absl::OkStatus();
  google::protobuf::Message* message = &config;
  const google::protobuf::FieldDescriptor* field = nullptr;
  for (absl::string_view name : absl::StrSplit(entry.field, '.')) {
    if (field != nullptr) message = message->GetReflection()->MutableMessage(message, field);
    field = message->GetDescriptor()->FindFieldByName(std::string(name));
    if (field == nullptr) {
      return absl::InternalError(absl::StrCat("--", entry.flag, ": no field ", entry.field));
    }
  }
  const absl::Status status = SetField(entry.path ? UserPath(text) : text, *field, *message);
  if (status.ok()) return status;
  return absl::InvalidArgumentError(absl::StrCat("--", entry.flag, ": ", status.message()));
}

// Every file or directory the configuration names, made absolute against the user's
// directory (UserPath), whether it came from a flag or from --config. Unset fields stay unset
// (the recorded config, and so resuming, must not change). distillation.teacher is left as it
// is: it may be a registry name (ResolveTeacher).
void ResolveUserPaths(ExperimentConfig& config) {
  const auto resolve = [](std::string* path) {
    if (!path->empty()) *path = UserPath(*path);
  };
  if (config.output().has_dir()) resolve(config.mutable_output()->mutable_dir());
  if (config.data().has_data_dir()) resolve(config.mutable_data()->mutable_data_dir());
  if (config.model().has_torchscript_file()) resolve(config.mutable_model()->mutable_torchscript_file());
  if (config.quantization().has_start_from()) {
    resolve(config.mutable_quantization()->mutable_start_from());
  }
  if (config.distillation().has_init_from()) {
    resolve(config.mutable_distillation()->mutable_init_from());
  }
  if (config.distillation().has_registry()) {
    resolve(config.mutable_distillation()->mutable_registry());
  }
  if (config.metaquant().has_start_from()) resolve(config.mutable_metaquant()->mutable_start_from());
  if (config.vq().has_teacher()) resolve(config.mutable_vq()->mutable_teacher());
}

}  // namespace

bool ResumeRequested() { return absl::GetFlag(FLAGS_resume); }

absl::Status ApplyFlags(std::initializer_list<FlagField> table, ExperimentConfig& config) {
  for (const FlagField& entry : table) MC_RETURN_IF_ERROR(ApplyFlag(entry, config));
  return absl::OkStatus();
}

absl::StatusOr<ExperimentConfig> ResolveExperimentConfig(absl::string_view experiment,
                                                         absl::string_view default_dataset,
                                                         const ConfigDefaults& defaults) {
  ExperimentConfig from_file;
  if (const auto config_path = absl::GetFlag(FLAGS_config)) {
    MC_RETURN_IF_ERROR(serialization::MergeExperimentConfigFile(UserPath(*config_path), from_file));
    if (from_file.has_experiment() && from_file.experiment() != experiment) {
      return absl::InvalidArgumentError(
          absl::StrCat("--config ", *config_path, " is for experiment \"",
                       from_file.experiment(), "\", not \"", experiment, "\""));
    }
  }
  std::string dataset(default_dataset);
  if (from_file.data().has_dataset()) dataset = from_file.data().dataset();
  if (const auto dataset_flag = absl::GetFlag(FLAGS_dataset)) dataset = *dataset_flag;

  ExperimentConfig config = defaults(dataset);
  config.MergeFrom(from_file);
  config.set_experiment(std::string(experiment));
  config.mutable_data()->set_dataset(dataset);

  auto* data = config.mutable_data();
  auto* training = config.mutable_training();
  if (const auto data_dir = absl::GetFlag(FLAGS_data_dir)) data->set_data_dir(*data_dir);
  if (const auto workers = absl::GetFlag(FLAGS_workers)) data->set_workers(*workers);
  if (const auto words = absl::GetFlag(FLAGS_vocabulary_size)) data->set_vocabulary_size(*words);
  if (const auto eval_batch = absl::GetFlag(FLAGS_eval_batch_size)) {
    training->set_eval_batch_size(*eval_batch);
  }
  if (const auto bptt = absl::GetFlag(FLAGS_bptt)) training->set_bptt(*bptt);
  if (const auto clip = absl::GetFlag(FLAGS_grad_clip_norm)) training->set_grad_clip_norm(*clip);
  if (const auto model = absl::GetFlag(FLAGS_model)) SetModel(*model, *config.mutable_model());
  if (const auto epochs = absl::GetFlag(FLAGS_epochs)) training->set_epochs(*epochs);
  if (const auto batch_size = absl::GetFlag(FLAGS_batch_size)) training->set_batch_size(*batch_size);
  if (const auto lr = absl::GetFlag(FLAGS_lr)) training->set_lr(*lr);
  if (const auto warmup = absl::GetFlag(FLAGS_warmup_epochs)) training->set_warmup_epochs(*warmup);
  if (const auto max_train_batches = absl::GetFlag(FLAGS_max_train_batches)) {
    training->set_max_train_batches(*max_train_batches);
  }
  if (const auto threads = absl::GetFlag(FLAGS_threads)) training->set_threads(*threads);
  if (const auto seed = absl::GetFlag(FLAGS_seed)) training->set_seed(*seed);
  if (const auto format = absl::GetFlag(FLAGS_memory_format)) {
    serialization::TrainingConfig::MemoryFormat value;
    if (!serialization::TrainingConfig::MemoryFormat_Parse(absl::AsciiStrToUpper(*format), &value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--memory_format=", *format, " is unknown: allowed channels_last, contiguous"));
    }
    training->set_memory_format(value);
  }
  if (const auto output_dir = absl::GetFlag(FLAGS_output_dir)) config.mutable_output()->set_dir(*output_dir);
  ApplyDistributedFlags(config);
  if (config.output().dir().empty()) {
    config.mutable_output()->set_dir(absl::StrCat("runs/", experiment, "/", dataset, "_",
                                                  config.model().name(), "_", Timestamp()));
  }
  ResolveUserPaths(config);
  MC_RETURN_IF_ERROR(serialization::CheckChoice("data.dataset", dataset, data::DatasetNames()));
  MC_RETURN_IF_ERROR(serialization::ValidateExperimentConfig(config));
  return config;
}

}  // namespace mc::experiments
