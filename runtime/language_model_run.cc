#include "runtime/language_model_run.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "data/dataset_info.h"
#include "data/text_corpus.h"
#include "model_io/model_loading.h"
#include "nn_models/classifier.h"
#include "nn_models/language_model.h"
#include "runtime/lstm_language_model.h"

namespace mc::runtime {
namespace {

// One way of running the model: reads a token, writes the next token's logits.
struct Path {
  std::function<void(int64_t token, float* logits)> step;
  std::function<void()> reset;  // back to the initial state
};

// exp of the mean negative log-likelihood of ids[t + 1] given ids[0..t], t < count.
double Perplexity(const std::vector<int32_t>& ids, int64_t count, int64_t vocabulary,
                  const Path& path) {
  path.reset();
  std::vector<float> logits(vocabulary);
  double total = 0;
  for (int64_t t = 0; t < count; ++t) {
    path.step(ids[t], logits.data());
    const float top = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (const float logit : logits) sum += std::exp(static_cast<double>(logit - top));
    total += std::log(sum) - (logits[ids[t + 1]] - top);
  }
  return std::exp(total / count);
}

struct Generation {
  std::string text;
  int64_t steps = 0;
  double tokens_per_second = 0;
};

// Reads the prompt, then generates `count` tokens greedily; times every step after
// `warmup` untimed ones.
Generation Generate(const std::vector<int32_t>& prompt, int64_t count, int64_t warmup,
                    const data::Vocabulary& vocabulary, const Path& path) {
  std::vector<float> logits(vocabulary.size());
  path.reset();
  for (int64_t i = 0; i < warmup; ++i) path.step(prompt[i % prompt.size()], logits.data());
  path.reset();
  Generation generation;
  const auto start = std::chrono::steady_clock::now();
  for (const int32_t token : prompt) path.step(token, logits.data());
  for (int64_t i = 0; i < count; ++i) {
    const int64_t token = std::max_element(logits.begin(), logits.end()) - logits.begin();
    absl::StrAppend(&generation.text, i > 0 ? " " : "", vocabulary.Word(static_cast<int32_t>(token)));
    path.step(token, logits.data());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  generation.steps = static_cast<int64_t>(prompt.size()) + count;
  generation.tokens_per_second = seconds > 0 ? generation.steps / seconds : 0;
  return generation;
}

// The prompt's words (lower-cased, as the corpora are) as ids; "<eos>" alone when empty.
std::vector<int32_t> PromptIds(const std::string& prompt, const data::Vocabulary& vocabulary) {
  std::vector<int32_t> ids;
  for (absl::string_view word : absl::StrSplit(prompt, ' ', absl::SkipWhitespace())) {
    ids.push_back(vocabulary.Id(absl::AsciiStrToLower(word)));
  }
  if (ids.empty()) ids.push_back(data::Vocabulary::kEndOfLineId);
  return ids;
}

absl::StatusOr<data::TokenCorpus> ReadCorpus(const std::string& dataset,
                                             const LanguageModelRunOptions& options) {
  MC_ASSIGN_OR_RETURN(const data::DatasetInfo info, data::GetDatasetInfo(dataset));
  if (!info.corpus_layout) {
    return absl::InvalidArgumentError(
        absl::StrCat("a language model runs on a text corpus; \"", dataset, "\" is not one"));
  }
  const std::string dir = options.data_dir.empty() ? data::DefaultDataDir(dataset) : options.data_dir;
  data::VocabularyOptions vocabulary;
  vocabulary.max_size = options.vocabulary_size;
  return data::ReadTokenCorpus(dir, *info.corpus_layout, vocabulary);
}

Path RuntimePath(const RuntimeLstmLm& model, Activations activations) {
  auto state = std::make_shared<RuntimeLstmLm::State>(model.InitialState());
  return {[&model, state, activations](int64_t token, float* logits) {
            model.Step(token, *state, logits, activations);
          },
          [&model, state] { *state = model.InitialState(); }};
}

Path FloatPath(nn_models::LanguageModel& model) {
  return {[&model](int64_t token, float* logits) {
            const at::Tensor output = model.forward(at::full({1, 1}, token, at::kLong));
            std::copy_n(output.data_ptr<float>(), output.numel(), logits);
          },
          [&model] { model.ResetState(); }};
}

}  // namespace

bool IsRuntimeLanguageModel(const serialization::CompressedModel& stored) {
  return absl::StartsWith(stored.model().name(), "lstm_lm");
}

absl::StatusOr<LanguageModelRunSummary> RunLanguageModel(const std::string& path,
                                                         const serialization::CompressedModel& stored,
                                                         const LanguageModelRunOptions& options) {
  MC_ASSIGN_OR_RETURN(const RuntimeLstmLm model, RuntimeLstmLm::Load(stored));
  MC_ASSIGN_OR_RETURN(const data::TokenCorpus corpus, ReadCorpus(stored.dataset(), options));
  if (corpus.vocabulary.size() != model.vocabulary_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the model has ", model.vocabulary_size(), " words, the vocabulary of ", stored.dataset(),
        " ", corpus.vocabulary.size(), " (set --vocabulary_size as in training)"));
  }
  const int64_t available = static_cast<int64_t>(corpus.test.size()) - 1;
  const int64_t scored =
      options.max_tokens > 0 ? std::min(options.max_tokens, available) : available;
  const std::vector<int32_t> prompt = PromptIds(options.prompt, corpus.vocabulary);

  LanguageModelRunSummary summary;
  summary.set_model_file(path);
  summary.set_dataset(stored.dataset());
  summary.set_activations(options.activations == Activations::kInt8 ? "int8" : "float");
  summary.set_threads(at::get_num_threads());
  summary.set_scored_tokens(static_cast<int32_t>(scored));
  summary.set_prompt(options.prompt);
  summary.set_weight_bytes(static_cast<double>(model.WeightBytes()));
  summary.set_file_bytes(static_cast<double>(std::filesystem::file_size(path)));

  const Path runtime = RuntimePath(model, options.activations);
  summary.set_test_perplexity(Perplexity(corpus.test, scored, model.vocabulary_size(), runtime));
  const Generation generated =
      Generate(prompt, options.generate, options.warmup_steps, corpus.vocabulary, runtime);
  summary.set_generation_steps(static_cast<int32_t>(generated.steps));
  summary.set_tokens_per_second(generated.tokens_per_second);
  summary.set_generated_text(generated.text);

  MC_ASSIGN_OR_RETURN(const data::DatasetInfo info, data::GetDatasetInfo(stored.dataset()));
  MC_ASSIGN_OR_RETURN(std::shared_ptr<nn_models::Classifier> float_model,
                      model_io::LoadModelFile(path, info));
  auto* language_model = dynamic_cast<nn_models::LanguageModel*>(float_model.get());
  if (language_model == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(stored.model().name(), " is not a language model"));
  }
  language_model->eval();
  torch::NoGradGuard no_grad;
  const Path float_path = FloatPath(*language_model);
  summary.set_float_path_test_perplexity(
      Perplexity(corpus.test, scored, model.vocabulary_size(), float_path));
  const Generation float_generated =
      Generate(prompt, options.generate, options.warmup_steps, corpus.vocabulary, float_path);
  summary.set_float_path_tokens_per_second(float_generated.tokens_per_second);
  summary.set_float_path_generated_text(float_generated.text);
  summary.set_float_weight_bytes(4.0 * static_cast<double>(nn_models::CountParameters(*float_model)));
  return summary;
}

}  // namespace mc::runtime
