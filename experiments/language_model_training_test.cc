// Language models through the runner: a small Penn-Treebank-layout corpus, the float, DiffQ,
// QAT and product-quantization methods, perplexities in the summary and metrics, resume, and gradient clipping.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/status_matchers.h"
#include "experiments/diffq_method.h"
#include "experiments/float_training.h"
#include "experiments/method_testutil.h"
#include "experiments/runner.h"
#include "experiments/testutil.h"
#include "experiments/vq_method.h"
#include "serialization/atomic_file.h"
#include "serialization/experiment_config.pb.h"
#include "serialization/summary.pb.h"

namespace mc::experiments {
namespace {

using serialization::ExperimentConfig;
using serialization::ExperimentSummary;

// Writes ptb.{train,valid,test}.txt of `lines` sentences each from a tiny grammar (a
// language a model can learn well: 14 words plus <unk> and <eos>).
std::string WriteCorpus(const std::string& name, int lines) {
  const std::string dir = FreshTestDirectory(name);
  const std::vector<std::string> subjects = {"the cat", "a dog", "the bird"};
  const std::vector<std::string> verbs = {"sees", "likes", "follows"};
  const std::vector<std::string> objects = {"the cat", "a dog", "the bird", "the mat"};
  int counter = 0;
  for (const std::string split : {"train", "valid", "test"}) {
    std::ofstream out(dir + "/ptb." + split + ".txt");
    for (int i = 0; i < lines; ++i, ++counter) {
      out << " " << subjects[counter % 3] << " " << verbs[(counter / 3) % 3] << " "
          << objects[(counter / 9) % 4] << " today \n";
    }
  }
  return dir;
}

ExperimentConfig LanguageModelRun(const std::string& name, const std::string& method) {
  ExperimentConfig config = LanguageModelDiffqDefaults("ptb");
  config.set_experiment("lm_test");
  config.mutable_data()->set_data_dir(WriteCorpus(name + "_corpus", 300));
  config.mutable_quantization()->set_method(method);
  auto* training = config.mutable_training();
  training->set_epochs(2);
  training->set_batch_size(4);
  training->set_eval_batch_size(2);
  training->set_bptt(12);
  training->set_lr(5);
  training->set_threads(1);
  config.mutable_output()->set_dir(std::string(std::getenv("TEST_TMPDIR")) + "/" + name);
  return config;
}

// Tests that a float LSTM run learns the grammar (perplexity far below the 16 words; about
// 1.7 if it learned every rule, 12 if it only counted words), that
// the summary holds the test and validation perplexities, the test one exp of the file's
// mean cross-entropy, and that every metrics line holds the epoch's validation values.
TEST(LanguageModelTrainingTest, FloatRunReportsPerplexities) {
  const ExperimentConfig config = LanguageModelRun("float", "float");
  MC_ASSERT_OK_AND_ASSIGN(const ExperimentSummary summary,
                          RunExperiment(config, &MakeQuantizationTraining, QuietRun()));
  EXPECT_GT(summary.test_perplexity(), 1.0);
  EXPECT_LT(summary.test_perplexity(), 6.0);
  EXPECT_GT(summary.valid_perplexity(), 1.0);
  EXPECT_LT(summary.valid_perplexity(), 6.0);
  EXPECT_GT(summary.test_accuracy(), 0.4);
  EXPECT_EQ(summary.model(), "lstm_lm_small");

  MC_ASSERT_OK_AND_ASSIGN(const std::string metrics,
                          serialization::ReadFileToString(config.output().dir() + "/metrics.jsonl"));
  const std::vector<std::string> lines = absl::StrSplit(metrics, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  for (const std::string& line : lines) {
    EXPECT_THAT(line, ::testing::HasSubstr("\"valid_perplexity\""));
    EXPECT_THAT(line, ::testing::HasSubstr("\"train_perplexity\""));
  }
}

// Tests that DiffQ and 4-bit QAT train the LSTM (its embedding and LSTM weights quantized)
// to a smaller model that still learns the grammar.
TEST(LanguageModelTrainingTest, QuantizedRunsShrinkTheModel) {
  for (const std::string method : {"diffq", "qat"}) {
    SCOPED_TRACE(method);
    const ExperimentConfig config = LanguageModelRun(method, method);
    MC_ASSERT_OK_AND_ASSIGN(const ExperimentSummary summary,
                            RunExperiment(config, &MakeQuantizationTraining, QuietRun()));
    EXPECT_LT(summary.model_size_mb(), summary.float_model_size_mb() / 3.5);
    EXPECT_LT(summary.test_perplexity(), 8.0);
    EXPECT_GT(summary.mean_bits(), 1.0);
  }
}

// Tests product quantization of a trained LSTM: the embedding (5 values per block) and the
// four LSTM weight matrices (8) become codebooks, the model shrinks more than 15x and still
// knows the grammar, the summary records the float model's perplexity for comparison.
TEST(LanguageModelTrainingTest, ProductQuantizationOfATrainedModel) {
  MC_ASSERT_OK_AND_ASSIGN(
      const ExperimentSummary teacher,
      RunExperiment(LanguageModelRun("vq_teacher", "float"), &MakeQuantizationTraining, QuietRun()));
  ExperimentConfig config = LanguageModelVqDefaults("ptb");
  config.set_experiment("lm_test");
  config.mutable_data()->set_data_dir(teacher.config().data().data_dir());
  auto* training = config.mutable_training();
  training->set_batch_size(4);
  training->set_eval_batch_size(2);
  training->set_bptt(12);
  training->set_threads(1);
  training->set_epochs(1);
  auto* vq = config.mutable_vq();
  vq->set_teacher(teacher.model_file());
  vq->set_n_iter(10);
  vq->set_n_activations(240);
  vq->set_finetune_steps(5);
  vq->set_global_finetune_steps(30);
  LimitGlobalFinetuneSteps(config);
  config.mutable_output()->set_dir(std::string(std::getenv("TEST_TMPDIR")) + "/vq");
  MC_ASSERT_OK_AND_ASSIGN(const ExperimentSummary summary,
                          RunExperiment(config, &MakeVqTraining, QuietRun()));
  int codebooks = 0;
  for (const serialization::LayerSummary& layer : summary.layers()) {
    if (layer.encoding() != "codebook") continue;
    ++codebooks;
    EXPECT_EQ(layer.block_size(), layer.name() == "embedding.weight" ? 5 : 8) << layer.name();
  }
  EXPECT_EQ(codebooks, 5);
  EXPECT_LT(summary.model_size_mb(), summary.float_model_size_mb() / 15);
  EXPECT_LT(summary.test_perplexity(), std::max(6.0, 1.5 * teacher.test_perplexity()));
}

// Tests that a run stopped after its first epoch and resumed writes the model of the run done
// straight, bit for bit (the carried LSTM state starts afresh every epoch).
TEST(LanguageModelTrainingTest, ResumedRunMatchesStraightRun) {
  ExpectResumedRunMatchesStraightRun(LanguageModelRun("resume", "diffq"), &MakeQuantizationTraining);
}

// Tests that a run on a missing corpus fails naming the file.
TEST(LanguageModelTrainingTest, MissingCorpusIsAnError) {
  ExperimentConfig config = LanguageModelRun("missing", "float");
  config.mutable_data()->set_data_dir(FreshTestDirectory("empty_corpus"));
  EXPECT_THAT(RunExperiment(config, &MakeQuantizationTraining, QuietRun()),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("ptb.train.txt")));
}

// Tests that ClipGradients rescales gradients to the global norm asked for, and leaves them
// alone below it or when the limit is 0.
TEST(ClipGradientsTest, RescalesToTheGlobalNorm) {
  at::Tensor a = at::zeros({2}, at::requires_grad());
  at::Tensor b = at::zeros({1}, at::requires_grad());
  a.mutable_grad() = at::tensor({3.0f, 0.0f});
  b.mutable_grad() = at::tensor({4.0f});  // global norm 5
  ClipGradients({a, b}, 0);
  EXPECT_FLOAT_EQ(b.grad()[0].item<float>(), 4.0f);
  ClipGradients({a, b}, 10);
  EXPECT_FLOAT_EQ(b.grad()[0].item<float>(), 4.0f);
  ClipGradients({a, b}, 1);
  EXPECT_NEAR(a.grad()[0].item<float>(), 0.6f, 1e-5);
  EXPECT_NEAR(b.grad()[0].item<float>(), 0.8f, 1e-5);
}

}  // namespace
}  // namespace mc::experiments
