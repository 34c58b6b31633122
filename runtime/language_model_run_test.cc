#include "runtime/language_model_run.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "common/status_matchers.h"
#include "data/text_corpus.h"
#include "nn_models/classifier.h"
#include "nn_models/registry.h"
#include "runtime/testutil.h"
#include "serialization/model_file.h"

namespace mc::runtime {
namespace {

// A Penn-Treebank-layout corpus of 40 short lines per split in `dir`.
void WriteCorpus(const std::string& dir) {
  const char* const lines[] = {"the cat sees a dog", "a dog likes the bird", "the bird sees the mat"};
  for (const std::string split : {"train", "valid", "test"}) {
    std::ofstream out(dir + "/ptb." + split + ".txt");
    for (int i = 0; i < 40; ++i) out << " " << lines[i % 3] << " \n";
  }
}

struct LanguageModelFile {
  std::string path;
  serialization::CompressedModel stored;
};

// lstm_lm_small over the corpus's vocabulary, its matrices at 4 bits, written to a file.
LanguageModelFile WriteModel(const std::string& dir) {
  const data::TokenCorpus corpus =
      *data::ReadTokenCorpus(dir, data::CorpusLayout::kPtb, data::VocabularyOptions());
  torch::manual_seed(3);
  const std::shared_ptr<nn_models::Classifier> model = *nn_models::CreateModel(
      "lstm_lm_small", nn_models::ModelOptions().num_classes(corpus.vocabulary.size()));
  LanguageModelFile file;
  file.path = dir + "/model.mcm";
  file.stored = testing::EncodeModel(*model, testing::WeightEncoding::kFourBits);
  file.stored.set_dataset("ptb");
  file.stored.mutable_model()->set_name("lstm_lm_small");
  file.stored.mutable_model()->set_num_classes(static_cast<int32_t>(corpus.vocabulary.size()));
  EXPECT_THAT(serialization::WriteModelFile(file.path, file.stored), IsOk());
  return file;
}

std::string TestDirectory(const std::string& name) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::filesystem::create_directories(dir);
  return dir;
}

// Tests that with float activations the runtime scores the test split and generates exactly
// as the decoded LibTorch model, and that both paths are timed.
TEST(LanguageModelRunTest, RuntimeMatchesTheFloatPath) {
  const std::string dir = TestDirectory("match");
  WriteCorpus(dir);
  const LanguageModelFile file = WriteModel(dir);
  LanguageModelRunOptions options;
  options.data_dir = dir;
  options.max_tokens = 60;
  options.prompt = "the cat";
  options.generate = 6;
  options.warmup_steps = 2;
  options.activations = Activations::kFloat;
  MC_ASSERT_OK_AND_ASSIGN(const LanguageModelRunSummary summary,
                          RunLanguageModel(file.path, file.stored, options));
  EXPECT_EQ(summary.scored_tokens(), 60);
  EXPECT_GT(summary.test_perplexity(), 1.0);
  EXPECT_NEAR(summary.test_perplexity(), summary.float_path_test_perplexity(),
              1e-4 * summary.float_path_test_perplexity());
  EXPECT_EQ(summary.generated_text(), summary.float_path_generated_text());
  EXPECT_EQ(summary.generation_steps(), 2 + 6);
  EXPECT_GT(summary.tokens_per_second(), 0);
  EXPECT_GT(summary.float_path_tokens_per_second(), 0);
  EXPECT_LT(summary.weight_bytes(), summary.float_weight_bytes() / 4);
}

// Tests the errors: a vocabulary of another size than the model's, and a data set that is not
// a text corpus.
TEST(LanguageModelRunTest, RejectsAMismatchedCorpus) {
  const std::string dir = TestDirectory("mismatch");
  WriteCorpus(dir);
  const LanguageModelFile file = WriteModel(dir);
  LanguageModelRunOptions options;
  options.data_dir = dir;
  options.vocabulary_size = 5;
  EXPECT_THAT(RunLanguageModel(file.path, file.stored, options).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("--vocabulary_size")));
  serialization::CompressedModel images = file.stored;
  images.set_dataset("mnist");
  EXPECT_THAT(RunLanguageModel(file.path, images, LanguageModelRunOptions()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("\"mnist\"")));
}

}  // namespace
}  // namespace mc::runtime
