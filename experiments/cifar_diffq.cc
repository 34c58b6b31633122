// cifar_diffq: DiffQ (differentiable quantization with pseudo quantization noise) and its
// baselines, uniform QAT and LSQ, on the image classification data sets.
//
//   bazel run //experiments:cifar_diffq -- --dataset=fashion_mnist
//       trains the float model and the DiffQ model (in float/ and diffq/ under the output
//       directory) and prints them side by side; the DiffQ summary, with the float accuracy,
//       is also the output directory's summary.json;
//   --method=diffq|qat|lsq|float runs one method (--bits for qat and lsq);
//   --sweep_penalty=0.5,1,2,5,10 trains DiffQ once per penalty, plus the float model and QAT
//   at 4 and 8 bits, and writes pareto.csv and pareto.svg.
#include "experiments/diffq_flags.h"
#include "experiments/diffq_method.h"
#include "experiments/experiment_main.h"

int main(int argc, char** argv) {
  namespace experiments = mc::experiments;
  return experiments::ExperimentMain(
      argc, argv,
      experiments::DiffqExperimentSpec(
          "cifar_diffq", "DiffQ and its QAT and LSQ baselines on image classification.", "cifar10",
          &experiments::DiffqDefaults));
}
