// File: weight_loading.h
// A stored tensor (serialization/compressed_model.proto) into the form the runtime keeps in
// memory (runtime/weight_matrix.h), without going through float32: uniform levels into blocks
// for the integer kernels when their groups line up with blocks of 8, 16 or 32 columns (two
// planes of blocks when a width exceeds 8 bits; a byte per level, runtime/byte_levels.h, for
// products whose widths change inside many tiles; row codes when the groups do not line up),
// learned points into row codes, codebooks into codebook matrices, float tensors as they are.
#ifndef MC_RUNTIME_WEIGHT_LOADING_H_
#define MC_RUNTIME_WEIGHT_LOADING_H_

#include "absl/status/statusor.h"
#include "runtime/weight_matrix.h"
#include "serialization/compressed_model.pb.h"

namespace mc::runtime {

/// How a layer reads its weight, which picks between forms that trade memory for speed.
enum class WeightUse {
  kProducts,      ///< Multiply at small batches: linear layers, LSTMs, embeddings
  kDecodedTiles,  ///< mostly DecodeRows: convolutions, decoded by tiles for oneDNN
};

/// The tensor as a matrix of shape[0] rows by numel / shape[0] columns. Uniform levels of one
/// range in blocks of 8 or 16 columns whose width changes inside more than a quarter of the
/// 32-column tiles become ByteLevels for kProducts (faster products, a byte per level) and
/// stay packed blocks for kDecodedTiles.
/// \error kDataLoss naming the tensor when it is corrupt, kInvalidArgument when it has fewer
///   than 2 dimensions.
absl::StatusOr<WeightMatrix> LoadWeightMatrix(const serialization::CompressedTensor& stored,
                                              WeightUse use = WeightUse::kProducts);

}  // namespace mc::runtime

#endif  // MC_RUNTIME_WEIGHT_LOADING_H_
