// cifar_vq: "And the bit goes down" (Stock et al. 2020) on the image classification data sets:
// a trained float model compressed layer by layer into product-quantized weights with
// codebooks fine-tuned by distillation from the float model (vq/compressor.h).
//
//   bazel run //experiments:cifar_vq -- --dataset=fashion_mnist --model=resnet18
//       --teacher=<float model.mcm> --block_size_cv=9 --block_size_pw=4 --block_size_fc=4
//       --n_centroids_cv=256 --n_centroids_pw=256 --n_centroids_fc=256
// Without --teacher, the float model is trained first with the baseline recipe (its own number
// of epochs for the data set).
//
// The runner's epochs are the global fine-tuning (--global_finetune_epochs, an alias of
// --epochs, at --lr with the step schedule); the layer-by-layer stage runs when the method is
// built, before the first epoch. --resume repeats that stage, then loads the checkpoint of the
// global fine-tuning over it.

#include "experiments/experiment_main.h"
#include "experiments/vq_flags.h"
#include "experiments/vq_method.h"

int main(int argc, char** argv) {
  namespace experiments = mc::experiments;
  return experiments::ExperimentMain(
      argc, argv,
      experiments::VqExperimentSpec(
          "cifar_vq", "Activation-aware product quantization (And the bit goes down).", "cifar10",
          &experiments::VqDefaults));
}
