// lm_vq: "And the bit goes down" (Stock et al. 2020) product quantization on word-level
// language models (nn_models/language_model.h): the embedding table (blocks along its width,
// unweighted k-means, as fairseq's iPQ) and every LSTM or linear weight matrix (k-means
// weighted by the layer's inputs over training windows), each codebook fine-tuned by
// distillation from the float model, then all of them together; cifar_vq's flags and outputs,
// with perplexities in the summaries.
//
//   bash tools/make_kjv_corpus.sh        # once: the King James Bible in the PTB layout
//   bazel run //experiments:lm_vq -- --dataset=kjv --model=lstm_lm_small
//       --teacher=<float model.mcm>
// Without --teacher, the float model is trained first with the language-model recipe, in
// teacher/ under the output directory.
#include "experiments/experiment_main.h"
#include "experiments/vq_flags.h"
#include "experiments/vq_method.h"

int main(int argc, char** argv) {
  namespace experiments = mc::experiments;
  return experiments::ExperimentMain(
      argc, argv,
      experiments::VqExperimentSpec(
          "lm_vq", "Product quantization (And the bit goes down, iPQ blocks) of language models.",
          "kjv", &experiments::LanguageModelVqDefaults));
}
