// File: gradient_sync.h
// The one call a training step makes for data-parallel training: between its backward pass
// and its optimizer steps, it hands the tensors it is about to update to a GradientSync,
// which replaces each one's gradient by the mean of that gradient over the ranks. Every rank
// then applies the same update, the one a single process would apply to the global batch.
// Libraries that run their own steps (metaquant, distill, vq) take a GradientSync and stay
// free of any communication code; an empty GradientSync (a single process) does nothing.
//
// Example:
//   loss.backward();
//   if (sync_gradients) sync_gradients(optimizer.parameters());
//   optimizer.step();
#ifndef MC_DISTRIBUTED_GRADIENT_SYNC_H_
#define MC_DISTRIBUTED_GRADIENT_SYNC_H_

#include <functional>
#include <vector>

namespace at {
class Tensor;
}

namespace mc::distributed {

/// Averages the gradients of `parameters` over the ranks, in place. Tensors without a
/// gradient are skipped; every rank must pass the same tensors, in the same order, with the
/// same gradients defined. Throws c10::Error when the communication fails.
using GradientSync = std::function<void(const std::vector<at::Tensor>& parameters)>;

/// Calls `sync` on `parameters` unless it is empty.
inline void SyncGradients(const GradientSync& sync, const std::vector<at::Tensor>& parameters) {
  if (sync) sync(parameters);
}

}  // namespace mc::distributed

#endif  // MC_DISTRIBUTED_GRADIENT_SYNC_H_
