// lm_diffq: DiffQ and its baselines, uniform QAT and LSQ, on word-level language models
// (nn_models/language_model.h) over a text corpus; cifar_diffq's flags and outputs, with
// perplexities in the summaries.
//
//   bash tools/make_kjv_corpus.sh        # once: the King James Bible in the PTB layout
//   bazel run //experiments:lm_diffq -- --dataset=kjv --model=lstm_lm_small
//       trains the float model and the DiffQ model (in float/ and diffq/ under the output
//       directory) and prints them side by side; the DiffQ summary, with the float test
//       perplexity, is also the output directory's summary.json;
//   --method=diffq|qat|lsq|float runs one method (--bits for qat and lsq);
//   --sweep_penalty=... as cifar_diffq.
#include "experiments/diffq_flags.h"
#include "experiments/diffq_method.h"
#include "experiments/experiment_main.h"

int main(int argc, char** argv) {
  namespace experiments = mc::experiments;
  return experiments::ExperimentMain(
      argc, argv,
      experiments::DiffqExperimentSpec(
          "lm_diffq", "DiffQ and its QAT and LSQ baselines on word-level language models.", "kjv",
          &experiments::LanguageModelDiffqDefaults));
}
