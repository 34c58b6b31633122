#include "experiments/experiment_main.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <iostream>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "data/dataset_info.h"
#include "distributed/process_group.h"
#include "experiments/float_training.h"
#include "serialization/atomic_file.h"
#include "serialization/experiment_config.h"
#include "serialization/json.h"

namespace mc::experiments {

serialization::ExperimentConfig BaselineRecipe(absl::string_view dataset) {
  serialization::ExperimentConfig config;
  const bool cifar = dataset == "cifar10" || dataset == "cifar100";
  config.mutable_data()->set_dataset(std::string(dataset));
  config.mutable_data()->set_augment(cifar);
  config.mutable_data()->set_workers(2);
  config.mutable_model()->set_name("resnet20");
  auto* training = config.mutable_training();
  training->set_epochs(cifar ? 200 : 1);
  training->set_batch_size(128);
  training->set_eval_batch_size(500);
  training->set_optimizer(serialization::TrainingConfig::SGD);
  training->set_lr(0.1);
  training->set_momentum(0.9);
  training->set_nesterov(true);
  training->set_weight_decay(5e-4);
  training->set_lr_schedule(serialization::TrainingConfig::COSINE);
  training->set_seed(1);
  return config;
}

serialization::ExperimentConfig LanguageModelRecipe(absl::string_view dataset) {
  serialization::ExperimentConfig config;
  config.mutable_data()->set_dataset(std::string(dataset));
  config.mutable_data()->set_workers(0);
  config.mutable_model()->set_name("lstm_lm_small");
  auto* training = config.mutable_training();
  training->set_epochs(6);
  training->set_batch_size(20);
  training->set_eval_batch_size(10);
  training->set_bptt(35);
  training->set_optimizer(serialization::TrainingConfig::SGD);
  training->set_lr(20);
  training->set_momentum(0);
  training->set_weight_decay(0);
  training->set_grad_clip_norm(0.25);
  training->set_lr_schedule(serialization::TrainingConfig::COSINE);
  training->set_seed(1);
  return config;
}

serialization::ExperimentConfig FloatRecipe(absl::string_view dataset) {
  const absl::StatusOr<data::DatasetInfo> info = data::GetDatasetInfo(dataset);
  const bool text = info.ok() && info->corpus_layout.has_value();
  return text ? LanguageModelRecipe(dataset) : BaselineRecipe(dataset);
}

serialization::ExperimentConfig BaselineConfigLike(const serialization::ExperimentConfig& like,
                                                   const serialization::ModelConfig& model,
                                                   const std::string& output_dir) {
  serialization::ExperimentConfig config = FloatRecipe(like.data().dataset());
  config.set_experiment(like.experiment());
  *config.mutable_data() = like.data();
  *config.mutable_model() = model;
  serialization::TrainingConfig& training = *config.mutable_training();
  training.set_epochs(like.training().epochs());
  training.set_seed(like.training().seed());
  training.set_threads(like.training().threads());
  training.set_max_train_batches(like.training().max_train_batches());
  training.set_eval_batch_size(like.training().eval_batch_size());
  if (like.has_distributed()) *config.mutable_distributed() = like.distributed();
  config.mutable_output()->set_dir(output_dir);
  return config;
}

std::optional<double> RecordedTestAccuracy(const std::string& model_file) {
  const std::string directory = model_file.substr(0, model_file.find_last_of('/') + 1);
  absl::StatusOr<std::string> json = serialization::ReadFileToString(directory + "summary.json");
  serialization::ExperimentSummary summary;
  if (!json.ok() || !serialization::ParseJson(*json, directory, summary).ok() ||
      summary.model_file() != model_file) {
    return std::nullopt;
  }
  return summary.test_accuracy();
}

absl::StatusOr<std::unique_ptr<TrainingMethod>> MakeFloatTraining(const MethodContext& context) {
  return std::make_unique<FloatTraining>(context.model, context.config.training());
}

namespace {

// The first flag given an empty value (--name= or --name ""), unless empty is one of its
// values (std::string flags): the other flags take an empty value for "not given", so that
// --dataset= would run the default data set without a word.
std::optional<std::string> FlagWithEmptyValue(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) continue;
    const size_t equals = arg.find('=');
    const absl::string_view name = arg.substr(0, equals);
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr || flag->IsOfType<std::string>() || flag->IsOfType<bool>()) continue;
    const bool empty = equals == absl::string_view::npos ? i + 1 < argc && argv[i + 1][0] == '\0'
                                                         : equals + 1 == arg.size();
    if (empty) return std::string(name);
  }
  return std::nullopt;
}

}  // namespace

std::optional<serialization::ExperimentConfig> ParseExperimentConfig(int argc, char** argv,
                                                                     const ExperimentSpec& spec) {
  absl::SetProgramUsageMessage(
      absl::StrCat(spec.description, "\nUsage: bazel run //experiments:", spec.name,
                   " -- [--dataset=...] [--model=...] [--epochs=N] [--output_dir=DIR] ..."));
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    std::cerr << spec.name << ": unexpected argument \"" << positional[1]
              << "\" (flags are written --name=value)" << std::endl;
    return std::nullopt;
  }
  if (const std::optional<std::string> flag = FlagWithEmptyValue(argc, argv)) {
    std::cerr << spec.name << ": --" << *flag
              << " is given an empty value; give it a value or leave it out" << std::endl;
    return std::nullopt;
  }
  absl::StatusOr<serialization::ExperimentConfig> config =
      ResolveExperimentConfig(spec.name, spec.default_dataset, spec.defaults);
  absl::Status status = config.status();
  if (status.ok() && spec.configure) status = spec.configure(*config);
  // The experiment's own flags may set common fields too (e.g. the epochs or the schedule).
  if (status.ok()) status = serialization::ValidateExperimentConfig(*config);
  if (!status.ok()) {
    std::cerr << spec.name << ": " << status.message() << std::endl;
    return std::nullopt;
  }
  return *config;
}

namespace {

// This process's connection to the other ranks: made by its first data-parallel run and kept
// for the later ones (a binary may train a teacher, then its student).
absl::StatusOr<distributed::ProcessGroup*> SharedProcessGroup(
    const serialization::DistributedConfig& config) {
  static std::unique_ptr<distributed::ProcessGroup> group;
  static serialization::DistributedConfig connected;
  if (group != nullptr) {
    if (config.SerializeAsString() != connected.SerializeAsString()) {
      return absl::InvalidArgumentError(
          "the runs of one process must share one distributed configuration");
    }
    return group.get();
  }
  distributed::ProcessGroupOptions options;
  options.world_size = config.world_size();
  options.rank = config.rank();
  options.master_addr = config.master_addr();
  options.master_port = config.master_port();
  options.timeout_seconds = config.timeout_seconds();
  std::cout << "rank " << options.rank << " of " << options.world_size << ": meeting the others at "
            << options.master_addr << ":" << options.master_port << std::endl;
  MC_ASSIGN_OR_RETURN(group, distributed::ProcessGroup::Connect(options));
  connected = config;
  return group.get();
}

}  // namespace

absl::StatusOr<serialization::ExperimentSummary> RunConfig(
    const serialization::ExperimentConfig& config, const MethodFactory& factory) {
  std::cout << config.experiment() << ": " << config.data().dataset() << ", "
            << config.model().name() << ", " << config.training().epochs() << " epochs -> "
            << config.output().dir() << std::endl;
  RunOptions options;
  options.resume = ResumeRequested();
  if (config.has_distributed() && config.distributed().world_size() > 1) {
    MC_ASSIGN_OR_RETURN(options.process_group, SharedProcessGroup(config.distributed()));
  }
  try {
    return RunExperiment(config, factory, options);
  } catch (const c10::Error& error) {
    return absl::InternalError(error.what_without_backtrace());
  } catch (const std::exception& error) {
    return absl::InternalError(error.what());
  }
}

void PrintResults(const std::vector<serialization::ExperimentSummary>& summaries,
                  std::ostream& out) {
  int method_width = 8;
  for (const serialization::ExperimentSummary& summary : summaries) {
    method_width = std::max(method_width, static_cast<int>(summary.method().size()));
  }
  // Language models are compared by test perplexity.
  const bool perplexity = !summaries.empty() && summaries.front().test_perplexity() > 0;
  out << absl::StrFormat("\n%-*s %-9s %-10s %-7s %-9s %s\n", method_width, "method",
                         perplexity ? "test ppl" : "accuracy",
                         "size (MB)", "ratio", "mean bits", "model file");
  for (const serialization::ExperimentSummary& summary : summaries) {
    out << absl::StrFormat("%-*s %-9.4f %-10.4f %-7.1f %-9s %s\n", method_width, summary.method(),
                           perplexity ? summary.test_perplexity() : summary.test_accuracy(),
                           summary.model_size_mb(),
                           summary.compression_ratio(),
                           summary.mean_bits() > 0 ? absl::StrFormat("%.2f", summary.mean_bits())
                                                   : std::string("32"),
                           summary.model_file());
  }
  out << std::flush;
}

namespace {

// The method's run from a float model: records that model's test accuracy in the run's
// summary (from `float_run` when it was trained now, otherwise as recorded beside the model
// file) and prints the float run, when there is one, and this run side by side.
absl::Status RunFromFloatModel(const serialization::ExperimentConfig& config,
                               const MethodFactory& factory,
                               const std::optional<serialization::ExperimentSummary>& float_run,
                               const std::string& float_model_file) {
  MC_ASSIGN_OR_RETURN(serialization::ExperimentSummary summary, RunConfig(config, factory));
  const std::optional<double> float_accuracy =
      float_run ? float_run->test_accuracy() : RecordedTestAccuracy(float_model_file);
  if (float_accuracy && IsRankZero(config)) {
    summary.set_float_test_accuracy(*float_accuracy);
    MC_RETURN_IF_ERROR(serialization::WriteJsonFile(config.output().dir() + "/summary.json", summary));
  }
  if (float_run) {
    PrintResults({*float_run, summary}, std::cout);
  } else {
    PrintResults({summary}, std::cout);
  }
  return absl::OkStatus();
}

// Trains the float starting point when the configuration names none, then runs the method.
absl::Status RunWithFloatStartingPoint(serialization::ExperimentConfig config,
                                       const ExperimentSpec& spec) {
  const FloatStartingPoint& start = *spec.float_start;
  std::string& model_file = *start.model_file(config);
  std::optional<serialization::ExperimentSummary> float_run;
  if (model_file.empty()) {
    serialization::ExperimentConfig baseline = BaselineConfigLike(
        config, config.model(), config.output().dir() + "/" + start.subdirectory);
    if (start.baseline_epochs) {
      baseline.mutable_training()->set_epochs(
          FloatRecipe(config.data().dataset()).training().epochs());
    }
    std::cout << "training " << start.role << " in " << baseline.output().dir() << std::endl;
    MC_ASSIGN_OR_RETURN(float_run, RunConfig(baseline, &MakeFloatTraining));
    model_file = float_run->model_file();
  }
  if (start.adjust_run) start.adjust_run(config);
  return RunFromFloatModel(config, spec.factory, float_run, *start.model_file(config));
}

// One run of the spec's method; on_success (rank 0), then the result.
absl::Status RunMethod(const serialization::ExperimentConfig& config, const ExperimentSpec& spec) {
  MC_ASSIGN_OR_RETURN(const serialization::ExperimentSummary summary,
                      RunConfig(config, spec.factory));
  if (spec.on_success && IsRankZero(config)) MC_RETURN_IF_ERROR(spec.on_success(summary));
  PrintResults({summary}, std::cout);
  std::cout << "summary: " << summary.config().output().dir() << "/summary.json ("
            << absl::StrFormat("%.0f", summary.wall_seconds()) << " s)" << std::endl;
  return absl::OkStatus();
}

}  // namespace

int ExperimentMain(int argc, char** argv, const ExperimentSpec& spec) {
  const std::optional<serialization::ExperimentConfig> config =
      ParseExperimentConfig(argc, argv, spec);
  if (!config) return 1;
  const absl::Status status = spec.run           ? spec.run(*config)
                              : spec.float_start ? RunWithFloatStartingPoint(*config, spec)
                                                 : RunMethod(*config, spec);
  if (!status.ok()) {
    std::cerr << spec.name << ": " << status.message() << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace mc::experiments
