#include "experiments/diffq_method.h"

#include <torch/optim/adam.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "experiments/experiment_main.h"
#include "experiments/float_training.h"
#include "experiments/pareto.h"
#include "experiments/quantized_training.h"
#include "model_io/model_loading.h"
#include "quant/diffq.h"
#include "quant/lsq.h"
#include "quant/uniform_quantizer.h"
#include "serialization/experiment_config.h"
#include "serialization/json.h"

namespace mc::experiments {

using serialization::CheckChoice;
using serialization::CheckRange;
using serialization::ExperimentConfig;
using serialization::ExperimentSummary;
using serialization::QuantizationConfig;
using serialization::Range;

ExperimentConfig DiffqDefaults(absl::string_view dataset) {
  ExperimentConfig config = BaselineRecipe(dataset);
  const bool short_run = dataset == "fashion_mnist" || dataset == "mnist";
  if (short_run) config.mutable_training()->set_epochs(3);
  QuantizationConfig* quantization = config.mutable_quantization();
  quantization->set_bits(4);
  quantization->set_penalty(5);
  quantization->set_group_size(16);
  quantization->set_min_size(0.01);
  quantization->set_min_bits(2);
  quantization->set_max_bits(15);
  quantization->set_init_bits(8);
  quantization->set_noise("gaussian");
  quantization->set_bits_lr(short_run ? 2e-3 : 1e-3);
  quantization->set_float16(false);
  return config;
}

ExperimentConfig LanguageModelDiffqDefaults(absl::string_view dataset) {
  ExperimentConfig config = LanguageModelRecipe(dataset);
  QuantizationConfig* quantization = config.mutable_quantization();
  quantization->set_bits(4);
  quantization->set_penalty(0.5);
  quantization->set_group_size(8);
  quantization->set_min_size(0.01);
  quantization->set_min_bits(2);
  quantization->set_max_bits(15);
  quantization->set_init_bits(8);
  quantization->set_noise("gaussian");
  quantization->set_bits_lr(5e-3);
  quantization->set_float16(false);
  return config;
}

absl::Status ValidateQuantizationConfig(const ExperimentConfig& config) {
  const QuantizationConfig& q = config.quantization();
  if (q.has_method()) {
    MC_RETURN_IF_ERROR(CheckChoice("quantization.method", q.method(), {"diffq", "qat", "lsq", "float"}));
  }
  MC_RETURN_IF_ERROR(CheckRange("quantization.bits", q.bits(), Range::Closed(1, 15)));
  MC_RETURN_IF_ERROR(CheckRange("quantization.penalty", q.penalty(), Range::AtLeast(0)));
  MC_RETURN_IF_ERROR(CheckRange("quantization.group_size", q.group_size(), Range::AtLeast(0)));
  MC_RETURN_IF_ERROR(CheckRange("quantization.min_size", q.min_size(), Range::AtLeast(0)));
  if (!(q.min_bits() >= 1 && q.min_bits() < q.init_bits() && q.init_bits() < q.max_bits() &&
        q.max_bits() <= 15)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "quantization bits need 1 <= min_bits < init_bits < max_bits <= 15, got min_bits = ",
        q.min_bits(), ", init_bits = ", q.init_bits(), ", max_bits = ", q.max_bits()));
  }
  MC_RETURN_IF_ERROR(CheckChoice("quantization.noise", q.noise(), {"gaussian", "uniform"}));
  return CheckRange("quantization.bits_lr", q.bits_lr(), Range::LeftOpen(0, 1));
}

namespace {

std::vector<std::string> ExcludedLayers(const QuantizationConfig& q) {
  return {q.exclude().begin(), q.exclude().end()};
}

std::unique_ptr<TrainingMethod> MakeDiffqTraining(const MethodContext& context) {
  const QuantizationConfig& q = context.config.quantization();
  const quant::DiffQuantizerOptions options = quant::DiffQuantizerOptions()
                                                  .group_size(q.group_size())
                                                  .min_size(q.min_size())
                                                  .min_bits(q.min_bits())
                                                  .max_bits(q.max_bits())
                                                  .init_bits(q.init_bits())
                                                  .noise(q.noise())
                                                  .float16(q.float16())
                                                  .exclude(ExcludedLayers(q));
  const double bits_lr = q.bits_lr();
  return std::make_unique<QuantizedTraining>(
      "diffq", context.model, context.config.training(), q.penalty(),
      [options, bits_lr](std::shared_ptr<torch::nn::Module> model,
                         torch::optim::Optimizer* model_optimizer) {
        auto quantizer = std::make_unique<quant::DiffQuantizer>(std::move(model), options);
        QuantizerSetup setup;
        if (model_optimizer != nullptr) {
          // A separate Adam for the bits, as the reference's CIFAR recipe.
          setup.quantizer_optimizer = std::make_unique<torch::optim::Adam>(
              std::vector<torch::optim::OptimizerParamGroup>{}, torch::optim::AdamOptions(bits_lr));
          quantizer->setup_optimizer(*setup.quantizer_optimizer, bits_lr);
        } else {
          quantizer->no_optimizer();
        }
        setup.quantizer = std::move(quantizer);
        return setup;
      });
}

std::unique_ptr<TrainingMethod> MakeQatTraining(const MethodContext& context) {
  const QuantizationConfig& q = context.config.quantization();
  const quant::UniformQuantizerOptions options = quant::UniformQuantizerOptions()
                                                     .bits(q.bits())
                                                     .qat(true)
                                                     .min_size(q.min_size())
                                                     .float16(q.float16())
                                                     .exclude(ExcludedLayers(q));
  return std::make_unique<QuantizedTraining>(
      "qat", context.model, context.config.training(), /*penalty=*/0,
      [options](std::shared_ptr<torch::nn::Module> model, torch::optim::Optimizer*) {
        QuantizerSetup setup;
        setup.quantizer = std::make_unique<quant::UniformQuantizer>(std::move(model), options);
        return setup;
      });
}

std::unique_ptr<TrainingMethod> MakeLsqTraining(const MethodContext& context) {
  const QuantizationConfig& q = context.config.quantization();
  const quant::LSQOptions options = quant::LSQOptions()
                                        .bits(q.bits())
                                        .min_size(q.min_size())
                                        .float16(q.float16())
                                        .exclude(ExcludedLayers(q));
  return std::make_unique<QuantizedTraining>(
      "lsq", context.model, context.config.training(), /*penalty=*/0,
      [options](std::shared_ptr<torch::nn::Module> model, torch::optim::Optimizer* model_optimizer) {
        auto quantizer = std::make_unique<quant::LSQ>(std::move(model), options);
        // The step sizes train with the model's optimizer, as in the reference.
        if (model_optimizer != nullptr) {
          quantizer->setup_optimizer(*model_optimizer);
        } else {
          quantizer->no_optimizer();
        }
        QuantizerSetup setup;
        setup.quantizer = std::move(quantizer);
        return setup;
      });
}

}  // namespace

absl::StatusOr<std::unique_ptr<TrainingMethod>> MakeQuantizationTraining(const MethodContext& context) {
  const std::string& start_from = context.config.quantization().start_from();
  if (!start_from.empty()) MC_RETURN_IF_ERROR(model_io::LoadModelFileInto(start_from, *context.model));
  const std::string& method = context.config.quantization().method();
  if (method == "float") {
    return std::make_unique<FloatTraining>(context.model, context.config.training());
  }
  if (method == "qat") return MakeQatTraining(context);
  if (method == "lsq") return MakeLsqTraining(context);
  return MakeDiffqTraining(context);  // also when the method is left empty
}

namespace {

ExperimentConfig Variant(const ExperimentConfig& config, const std::string& method,
                         const std::string& subdirectory) {
  ExperimentConfig variant = config;
  variant.mutable_quantization()->set_method(method);
  variant.mutable_output()->set_dir(absl::StrCat(config.output().dir(), "/", subdirectory));
  return variant;
}

// Float, QAT at 4 and 8 bits and DiffQ at every penalty, then their accuracy/size front as
// pareto.csv and pareto.svg.
absl::Status RunSweep(const ExperimentConfig& config, const std::vector<double>& penalties) {
  std::vector<ExperimentConfig> runs = {Variant(config, "float", "float")};
  for (const int bits : {4, 8}) {
    ExperimentConfig qat = Variant(config, "qat", absl::StrCat("qat", bits));
    qat.mutable_quantization()->set_bits(bits);
    runs.push_back(qat);
  }
  for (const double penalty : penalties) {
    ExperimentConfig diffq = Variant(config, "diffq", absl::StrFormat("diffq_penalty_%g", penalty));
    diffq.mutable_quantization()->set_penalty(penalty);
    runs.push_back(diffq);
  }
  std::vector<ExperimentSummary> summaries;
  std::vector<ParetoPoint> points;
  for (const ExperimentConfig& run : runs) {
    MC_ASSIGN_OR_RETURN(ExperimentSummary summary, RunConfig(run, &MakeQuantizationTraining));
    const QuantizationConfig& q = run.quantization();
    points.push_back({q.method() == "qat" ? absl::StrCat("qat", q.bits()) : q.method(),
                      q.method() == "diffq" ? q.penalty() : -1, summary.model_size_mb(),
                      summary.test_accuracy()});
    summaries.push_back(std::move(summary));
  }
  const std::string& dir = config.output().dir();
  if (IsRankZero(config)) {
    MC_RETURN_IF_ERROR(WriteParetoCsv(dir + "/pareto.csv", points));
    MC_RETURN_IF_ERROR(WriteParetoSvg(
        dir + "/pareto.svg", points,
        absl::StrCat(config.model().name(), " on ", config.data().dataset(), ": DiffQ penalties ",
                     absl::StrJoin(penalties, ","))));
  }
  PrintResults(summaries, std::cout);
  std::cout << "front: " << dir << "/pareto.csv, " << dir << "/pareto.svg" << std::endl;
  return absl::OkStatus();
}

// No method named: the float model and DiffQ, side by side.
absl::Status RunFloatAndDiffq(const ExperimentConfig& config) {
  MC_ASSIGN_OR_RETURN(const ExperimentSummary float_run,
                      RunConfig(Variant(config, "float", "float"), &MakeQuantizationTraining));
  const ExperimentConfig diffq_config = Variant(config, "diffq", "diffq");
  MC_ASSIGN_OR_RETURN(ExperimentSummary diffq_run, RunConfig(diffq_config, &MakeQuantizationTraining));
  diffq_run.set_float_test_accuracy(float_run.test_accuracy());
  diffq_run.set_float_test_perplexity(float_run.test_perplexity());
  // The DiffQ summary, with the float accuracy beside it, is the comparison's result: it is
  // also written at the top of the output directory, where a single-method run writes its own.
  if (IsRankZero(diffq_config)) {
    for (const std::string& dir : {diffq_config.output().dir(), config.output().dir()}) {
      MC_RETURN_IF_ERROR(serialization::WriteJsonFile(dir + "/summary.json", diffq_run));
    }
  }
  PrintResults({float_run, diffq_run}, std::cout);
  if (diffq_run.test_perplexity() > 0) {
    std::cout << absl::StrFormat(
        "DiffQ: test perplexity %.2f (float %.2f), %.1fx smaller, %.2f bits per weight\n",
        diffq_run.test_perplexity(), float_run.test_perplexity(), diffq_run.compression_ratio(),
        diffq_run.mean_bits());
    return absl::OkStatus();
  }
  std::cout << absl::StrFormat("DiffQ: %.2f%% accuracy (float %.2f%%), %.1fx smaller, %.2f bits per weight\n",
                               100 * diffq_run.test_accuracy(), 100 * float_run.test_accuracy(),
                               diffq_run.compression_ratio(), diffq_run.mean_bits());
  return absl::OkStatus();
}

}  // namespace

absl::Status RunDiffqExperiment(const ExperimentConfig& config, const std::vector<double>& sweep_penalties) {
  if (!sweep_penalties.empty()) return RunSweep(config, sweep_penalties);
  if (!config.quantization().has_method()) return RunFloatAndDiffq(config);
  MC_ASSIGN_OR_RETURN(const ExperimentSummary summary, RunConfig(config, &MakeQuantizationTraining));
  PrintResults({summary}, std::cout);
  return absl::OkStatus();
}

}  // namespace mc::experiments
