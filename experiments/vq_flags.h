// File: vq_flags.h
// The product-quantization experiments (cifar_vq, lm_vq) behind their command-line flags:
// --teacher, the block sizes and centroids per kind of layer, the k-means and the two
// fine-tuning stages. Linking this library defines the flags.
//
// Example (a binary's main):
//   return ExperimentMain(argc, argv, VqExperimentSpec("lm_vq", "...", "kjv",
//                                                      &LanguageModelVqDefaults));
#ifndef MC_EXPERIMENTS_VQ_FLAGS_H_
#define MC_EXPERIMENTS_VQ_FLAGS_H_

#include <string>

#include "absl/status/status.h"
#include "experiments/experiment_main.h"
#include "serialization/experiment_config.pb.h"

namespace mc::experiments {

/// Writes the flags that are set into config.vq (and --global_finetune_epochs into
/// training.epochs) and checks that section. \error kInvalidArgument naming the flag or field.
absl::Status ApplyVqFlags(serialization::ExperimentConfig& config);

/// The experiment `name` of MakeVqTraining (vq_method.h) with these flags, on
/// `default_dataset` unless told otherwise, from `defaults`, starting from --teacher or from a
/// float model it trains first.
ExperimentSpec VqExperimentSpec(std::string name, std::string description,
                                std::string default_dataset, ConfigDefaults defaults);

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_VQ_FLAGS_H_
