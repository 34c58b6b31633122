#include "experiments/experiment_main.h"

#include <c10/util/Exception.h>

#include <iostream>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

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

int ExperimentMain(int argc, char** argv, const ExperimentSpec& spec) {
  absl::SetProgramUsageMessage(
      absl::StrCat(spec.description, "\nUsage: bazel run //experiments:", spec.name,
                   " -- [--dataset=...] [--model=...] [--epochs=N] [--output_dir=DIR] ..."));
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    std::cerr << spec.name << ": unexpected argument \"" << positional[1]
              << "\" (flags are written --name=value)" << std::endl;
    return 1;
  }
  absl::StatusOr<serialization::ExperimentConfig> config =
      ResolveExperimentConfig(spec.name, spec.default_dataset, spec.defaults);
  if (!config.ok()) {
    std::cerr << spec.name << ": " << config.status().message() << std::endl;
    return 1;
  }
  std::cout << spec.name << ": " << config->data().dataset() << ", " << config->model().name()
            << ", " << config->training().epochs() << " epochs -> " << config->output().dir()
            << std::endl;
  RunOptions options;
  options.resume = ResumeRequested();
  absl::StatusOr<serialization::ExperimentSummary> summary;
  try {
    summary = RunExperiment(*config, spec.factory, options);
    if (summary.ok() && spec.on_success) {
      const absl::Status extra = spec.on_success(*summary);
      if (!extra.ok()) summary = extra;
    }
  } catch (const c10::Error& error) {
    summary = absl::InternalError(error.what_without_backtrace());
  } catch (const std::exception& error) {
    summary = absl::InternalError(error.what());
  }
  if (!summary.ok()) {
    std::cerr << spec.name << ": " << summary.status().message() << std::endl;
    return 1;
  }
  std::cout << absl::StrFormat(
      "\n%-10s %-10s %-12s %-8s %s\n%-10s %-10.4f %-12.4f %-8.1f %s\n", "method", "accuracy",
      "size (MB)", "ratio", "model file", summary->method(), summary->test_accuracy(),
      summary->model_size_mb(), summary->compression_ratio(), summary->model_file());
  std::cout << "summary: " << config->output().dir() << "/summary.json ("
            << absl::StrFormat("%.0f", summary->wall_seconds()) << " s)" << std::endl;
  return 0;
}

}  // namespace mc::experiments
