// File: language_model_run.h
// run_model on a language model file: the test split's perplexity and greedy generation from
// a prompt, both at batch 1 one token at a time, with the weights in their stored encodings
// (runtime/lstm_language_model.h) and, side by side in the same process, with the file
// decoded into its LibTorch model (the float path). The vocabulary is rebuilt from the
// corpus's training split, as training built it.
//
// Example:
//   LanguageModelRunOptions options;
//   options.prompt = "in the beginning";
//   MC_ASSIGN_OR_RETURN(LanguageModelRunSummary summary, RunLanguageModel(path, options));
#ifndef MC_RUNTIME_LANGUAGE_MODEL_RUN_H_
#define MC_RUNTIME_LANGUAGE_MODEL_RUN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/run_summary.pb.h"
#include "runtime/weight_matrix.h"
#include "serialization/compressed_model.pb.h"

namespace mc::runtime {

struct LanguageModelRunOptions {
  /// Corpus directory; empty: the data set's default.
  std::string data_dir;
  /// Words of the vocabulary, as in training (data.vocabulary_size; 0: every word).
  int64_t vocabulary_size = 0;
  /// Test tokens to predict; 0: the whole split.
  int64_t max_tokens = 0;
  /// Words read before generating; unknown ones read as "<unk>".
  std::string prompt = "in the beginning";
  /// Tokens to generate after the prompt.
  int64_t generate = 100;
  /// Steps run on each path before timing starts.
  int64_t warmup_steps = 20;
  Activations activations = Activations::kInt8;
};

/// Whether `stored` is a language model the runtime runs (lstm_lm_*).
bool IsRuntimeLanguageModel(const serialization::CompressedModel& stored);

/// \error naming the problem: the file's data set is not a text corpus, the corpus's
///   vocabulary does not have the model's size, tensors missing or mis-shaped.
absl::StatusOr<LanguageModelRunSummary> RunLanguageModel(const std::string& path,
                                                         const serialization::CompressedModel& stored,
                                                         const LanguageModelRunOptions& options);

}  // namespace mc::runtime

#endif  // MC_RUNTIME_LANGUAGE_MODEL_RUN_H_
