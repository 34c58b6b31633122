// Runs a model file with its weights kept in their stored encodings and, side by side in the
// same process on the same images, the decode-to-float path (the file decoded into its LibTorch
// model): test accuracy, latency per batch, weight bytes and peak memory. On an LSTM language
// model file: test perplexity and greedy generation from a prompt, at batch 1, with tokens per
// second on both paths (runtime/language_model_run.h).
//
//   bazel run //runtime:run_model -- model.mcm --dataset=fashion_mnist --batch_size=1
//       --threads=1 --activations=int8 [--summary_json=run.json] [--max_images=N]
//   bazel run //runtime:run_model -- lm/model.mcm --prompt="in the beginning" --generate=100
//       [--max_tokens=N] [--vocabulary_size=N]
#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/cpu_threads.h"
#include "common/status_macros.h"
#include "common/user_path.h"
#include "data/dataset_info.h"
#include "data/image_data.h"
#include "data/transforms.h"
#include "model_io/model_loading.h"
#include "nn_models/classifier.h"
#include "runtime/language_model_run.h"
#include "runtime/run_summary.pb.h"
#include "runtime/runtime_model.h"
#include "serialization/json.h"
#include "serialization/model_file.h"

ABSL_FLAG(std::string, dataset, "", "data set of the test images (default: the file's)");
ABSL_FLAG(std::string, data_dir, "", "directory of the data set (default: its usual place)");
ABSL_FLAG(int64_t, batch_size, 1, "images per forward pass");
ABSL_FLAG(int64_t, threads, 1, "intra-op threads (output rows are split over them)");
ABSL_FLAG(std::string, activations, "int8", "the runtime's activations: int8 or float (exact)");
ABSL_FLAG(int64_t, max_images, 0, "test images to run (0: all)");
ABSL_FLAG(int64_t, warmup_batches, 3, "batches run before timing starts, on each path");
ABSL_FLAG(std::string, summary_json, "", "also write the results to this JSON file");
ABSL_FLAG(int64_t, max_tokens, 0, "language models: test tokens to predict (0: all)");
ABSL_FLAG(std::string, prompt, "in the beginning", "language models: words read before generating");
ABSL_FLAG(int64_t, generate, 100, "language models: tokens generated after the prompt");
ABSL_FLAG(int64_t, vocabulary_size, 0, "language models: vocabulary size used in training (0: all words)");

namespace mc::runtime {
namespace {

constexpr char kUsage[] =
    "usage: run_model <model.mcm> [--dataset=NAME] [--batch_size=1] [--threads=1] "
    "[--activations=int8|float] [--summary_json=FILE]";

struct TestImages {
  at::Tensor images;  // (N, C, H, W) float32, normalized
  at::Tensor labels;  // (N) int64
};

absl::StatusOr<TestImages> LoadTestImages(const data::DatasetInfo& info, int64_t max_images) {
  MC_ASSIGN_OR_RETURN(data::ImageData split,
                      data::LoadImageData(info.name, absl::GetFlag(FLAGS_data_dir), data::Split::kTest));
  const int64_t count = max_images > 0 ? std::min(max_images, split.images.size(0)) : split.images.size(0);
  data::TransformOptions options;
  options.augment = false;
  const data::ImageTransform transform(info, options);
  at::Tensor images = at::empty({count, info.channels, info.height, info.width});
  const int64_t pixels = info.channels * info.height * info.width;
  for (int64_t i = 0; i < count; ++i) {
    transform.Apply(split.images.data_ptr<uint8_t>() + i * pixels, data::CropFlip{},
                    images.data_ptr<float>() + i * pixels);
  }
  return TestImages{images, split.labels.slice(0, 0, count)};
}

struct PathResult {
  double accuracy = 0;
  double p50_ms = 0;
  double p90_ms = 0;
};

double Percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(fraction * values.size()));
  return values[index];
}

// Runs `forward` over the images in batches: accuracy over all of them, latency of each batch
// after the warm-up ones (which are run again, so every image counts once).
PathResult RunPath(const TestImages& test, int64_t batch_size,
                   const std::function<at::Tensor(const at::Tensor&)>& forward) {
  const int64_t count = test.images.size(0);
  for (int64_t b = 0; b < absl::GetFlag(FLAGS_warmup_batches); ++b) {
    forward(test.images.slice(0, 0, std::min(count, batch_size)));
  }
  int64_t correct = 0;
  std::vector<double> milliseconds;
  for (int64_t begin = 0; begin < count; begin += batch_size) {
    const at::Tensor batch = test.images.slice(0, begin, std::min(count, begin + batch_size));
    const auto start = std::chrono::steady_clock::now();
    const at::Tensor logits = forward(batch);
    milliseconds.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    correct += logits.argmax(1).eq(test.labels.slice(0, begin, begin + batch.size(0))).sum().item<int64_t>();
  }
  return {static_cast<double>(correct) / count, Percentile(milliseconds, 0.5),
          Percentile(milliseconds, 0.9)};
}

// The process's peak resident set (VmHWM), in bytes.
int64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

absl::StatusOr<Activations> ParseActivations(const std::string& name) {
  if (name == "int8") return Activations::kInt8;
  if (name == "float") return Activations::kFloat;
  return absl::InvalidArgumentError(
      absl::StrCat("--activations must be int8 or float, got \"", name, "\""));
}

absl::Status CheckFlags() {
  if (absl::GetFlag(FLAGS_batch_size) < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--batch_size must be at least 1, got ", absl::GetFlag(FLAGS_batch_size)));
  }
  if (absl::GetFlag(FLAGS_threads) < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--threads must be at least 1, got ", absl::GetFlag(FLAGS_threads)));
  }
  if (absl::GetFlag(FLAGS_max_images) < 0) {
    return absl::InvalidArgumentError("--max_images must not be negative");
  }
  if (absl::GetFlag(FLAGS_max_tokens) < 0 || absl::GetFlag(FLAGS_generate) < 0 ||
      absl::GetFlag(FLAGS_vocabulary_size) < 0) {
    return absl::InvalidArgumentError(
        "--max_tokens, --generate and --vocabulary_size must not be negative");
  }
  return absl::OkStatus();
}

void PrintSummary(const RunSummary& summary, std::ostream& out) {
  const auto bytes = [](double value) { return static_cast<int64_t>(value); };
  out << std::fixed << summary.model_file() << " on " << summary.dataset() << " ("
      << summary.images() << " test images, batch " << summary.batch_size() << ", "
      << summary.threads() << " thread(s))\n"
      << "  path                   accuracy   p50 ms   p90 ms   weight bytes\n";
  out << "  runtime (" << std::setw(5) << summary.activations() << ")      " << std::setprecision(4)
      << summary.test_accuracy() << std::setprecision(3) << std::setw(9) << summary.latency_ms_p50()
      << std::setw(9) << summary.latency_ms_p90() << std::setw(15) << bytes(summary.weight_bytes())
      << "\n";
  out << "  decode to float        " << std::setprecision(4) << summary.float_path_test_accuracy()
      << std::setprecision(3) << std::setw(9) << summary.float_path_latency_ms_p50() << std::setw(9)
      << summary.float_path_latency_ms_p90() << std::setw(15)
      << bytes(summary.float_weight_bytes()) << "\n";
  out << "  file " << bytes(summary.file_bytes()) << " bytes, peak RSS "
      << bytes(summary.peak_rss_bytes()) << " bytes after the runtime's pass\n";
  if (summary.recorded_test_accuracy() >= 0) {
    out << "  the file records a test accuracy of " << std::setprecision(4)
        << summary.recorded_test_accuracy() << " (on the whole test split)\n";
  }
}

void PrintLanguageModelSummary(const LanguageModelRunSummary& summary, std::ostream& out) {
  const auto bytes = [](double value) { return static_cast<int64_t>(value); };
  out << std::fixed << summary.model_file() << " on " << summary.dataset() << " ("
      << summary.scored_tokens() << " test tokens, batch 1, " << summary.threads()
      << " thread(s))\n"
      << "  path                 perplexity   tokens/s   weight bytes\n"
      << "  runtime (" << std::setw(5) << summary.activations() << ")    " << std::setprecision(2)
      << std::setw(10) << summary.test_perplexity() << std::setprecision(1) << std::setw(11)
      << summary.tokens_per_second() << std::setw(15) << bytes(summary.weight_bytes()) << "\n"
      << "  decode to float      " << std::setprecision(2) << std::setw(10)
      << summary.float_path_test_perplexity() << std::setprecision(1) << std::setw(11)
      << summary.float_path_tokens_per_second() << std::setw(15)
      << bytes(summary.float_weight_bytes()) << "\n"
      << "  prompt: " << summary.prompt() << "\n"
      << "  runtime:         " << summary.generated_text() << "\n"
      << "  decode to float: " << summary.float_path_generated_text() << "\n";
}

absl::Status RunLanguageModelFile(const std::string& path,
                                  const serialization::CompressedModel& stored,
                                  Activations activations) {
  LanguageModelRunOptions options;
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.vocabulary_size = absl::GetFlag(FLAGS_vocabulary_size);
  options.max_tokens = absl::GetFlag(FLAGS_max_tokens);
  options.prompt = absl::GetFlag(FLAGS_prompt);
  options.generate = absl::GetFlag(FLAGS_generate);
  options.warmup_steps = absl::GetFlag(FLAGS_warmup_batches);
  options.activations = activations;
  serialization::CompressedModel on = stored;
  if (!absl::GetFlag(FLAGS_dataset).empty()) on.set_dataset(absl::GetFlag(FLAGS_dataset));
  MC_ASSIGN_OR_RETURN(const LanguageModelRunSummary summary, RunLanguageModel(path, on, options));
  PrintLanguageModelSummary(summary, std::cout);
  const std::string json = absl::GetFlag(FLAGS_summary_json);
  if (!json.empty()) MC_RETURN_IF_ERROR(serialization::WriteJsonFile(UserPath(json), summary));
  return absl::OkStatus();
}

absl::Status Run(const std::string& path) {
  MC_RETURN_IF_ERROR(CheckFlags());
  MC_ASSIGN_OR_RETURN(const Activations activations, ParseActivations(absl::GetFlag(FLAGS_activations)));
  ConfigureCpuThreads(static_cast<int>(absl::GetFlag(FLAGS_threads)));
  MC_ASSIGN_OR_RETURN(const serialization::CompressedModel stored, serialization::ReadModelFile(path));
  if (IsRuntimeLanguageModel(stored)) return RunLanguageModelFile(path, stored, activations);
  MC_ASSIGN_OR_RETURN(const RuntimeModel model, RuntimeModel::Load(path));
  const std::string dataset_name =
      absl::GetFlag(FLAGS_dataset).empty() ? model.dataset() : absl::GetFlag(FLAGS_dataset);
  MC_ASSIGN_OR_RETURN(const data::DatasetInfo dataset, data::GetDatasetInfo(dataset_name));
  MC_ASSIGN_OR_RETURN(const TestImages test, LoadTestImages(dataset, absl::GetFlag(FLAGS_max_images)));
  const int64_t batch_size = absl::GetFlag(FLAGS_batch_size);

  RunSummary summary;
  summary.set_model_file(path);
  summary.set_dataset(dataset_name);
  summary.set_activations(absl::GetFlag(FLAGS_activations));
  summary.set_batch_size(static_cast<int32_t>(batch_size));
  summary.set_threads(static_cast<int32_t>(absl::GetFlag(FLAGS_threads)));
  summary.set_images(static_cast<int32_t>(test.images.size(0)));
  summary.set_file_bytes(static_cast<double>(std::filesystem::file_size(path)));
  const auto recorded = model.metrics().find("test_accuracy");
  summary.set_recorded_test_accuracy(recorded == model.metrics().end() ? -1 : recorded->second);

  const PathResult runtime = RunPath(test, batch_size, [&](const at::Tensor& images) {
    return model.Forward(images, activations);
  });
  summary.set_test_accuracy(runtime.accuracy);
  summary.set_latency_ms_p50(runtime.p50_ms);
  summary.set_latency_ms_p90(runtime.p90_ms);
  summary.set_weight_bytes(static_cast<double>(model.WeightBytes()));
  summary.set_peak_rss_bytes(static_cast<double>(PeakRssBytes()));

  MC_ASSIGN_OR_RETURN(std::shared_ptr<nn_models::Classifier> float_model,
                      model_io::LoadModelFile(path, dataset));
  float_model->eval();
  c10::NoGradGuard no_grad;
  const PathResult float_path = RunPath(
      test, batch_size, [&](const at::Tensor& images) { return float_model->forward(images); });
  summary.set_float_path_test_accuracy(float_path.accuracy);
  summary.set_float_path_latency_ms_p50(float_path.p50_ms);
  summary.set_float_path_latency_ms_p90(float_path.p90_ms);
  int64_t parameters = 0;
  for (const at::Tensor& parameter : float_model->parameters()) parameters += parameter.numel();
  summary.set_float_weight_bytes(static_cast<double>(parameters) * sizeof(float));

  PrintSummary(summary, std::cout);
  const std::string json = absl::GetFlag(FLAGS_summary_json);
  if (!json.empty()) MC_RETURN_IF_ERROR(serialization::WriteJsonFile(UserPath(json), summary));
  return absl::OkStatus();
}

}  // namespace
}  // namespace mc::runtime

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(absl::StrCat(
      "Runs a model file with its weights in their stored encodings, beside the decode-to-float "
      "path.\n",
      mc::runtime::kUsage));
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  absl::Status status;
  if (positional.size() != 2 || *positional[1] == '\0') {
    status = absl::InvalidArgumentError(
        absl::StrCat("expected one model file (", mc::runtime::kUsage, ")"));
  } else {
    try {
      status = mc::runtime::Run(mc::UserPath(positional[1]));
    } catch (const c10::Error& error) {
      status = absl::InternalError(error.what_without_backtrace());
    }
  }
  if (!status.ok()) {
    std::cerr << "run_model: " << status.message() << std::endl;
    return 1;
  }
  return 0;
}
