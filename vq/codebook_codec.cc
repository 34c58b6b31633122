#include "vq/codebook_codec.h"

#include <ATen/ATen.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/status_macros.h"
#include "quant/bitpack.h"
#include "serialization/tensor_codec.h"
#include "vq/layout.h"

namespace mc::vq {
namespace {

// The centroids' (k, block_size) passthrough form, so that float16 bytes are written and
// checked by the one passthrough codec.
serialization::CompressedTensor CentroidTable(const std::string& name, int64_t k,
                                              int64_t block_size) {
  serialization::CompressedTensor table;
  table.set_name(absl::StrCat(name, " (centroids)"));
  table.add_shape(k);
  table.add_shape(block_size);
  return table;
}

// A kInvalidArgument from the layout functions, reported as corruption of `name`.
absl::Status AsDataLoss(const absl::Status& status, const std::string& name) {
  if (status.ok()) return status;
  return absl::DataLossError(absl::StrCat("tensor ", name, ": ", status.message()));
}

}  // namespace

std::string CodebookLayoutName(at::IntArrayRef weight_shape) {
  if (weight_shape.size() == 4) return "conv";
  if (weight_shape.size() == 2) return "linear";
  return "";
}

int AssignmentBits(int64_t num_centroids) {
  return quant::BitsFor(static_cast<uint32_t>(num_centroids - 1));
}

at::Tensor RoundCentroids(const at::Tensor& centroids) {
  return centroids.detach().to(at::kHalf).to(at::kFloat);
}

absl::StatusOr<serialization::CompressedTensor> EncodeCodebook(const std::string& name,
                                                              at::IntArrayRef weight_shape,
                                                              const at::Tensor& centroids,
                                                              const at::Tensor& assignments) {
  if (!centroids.defined() || centroids.dim() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": centroids must be a 2-D (k, block_size) tensor"));
  }
  const int64_t k = centroids.size(0);
  const int64_t block_size = centroids.size(1);
  if (k < 1 || k > kMaxStoredCentroids) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", k, " centroids, the encoding holds 1 to ",
                                                   kMaxStoredCentroids));
  }
  MC_ASSIGN_OR_RETURN(const int64_t n, NumSubvectors(weight_shape, block_size));
  if (!assignments.defined() || assignments.dim() != 1 || assignments.size(0) != n ||
      !at::isIntegralType(assignments.scalar_type(), /*includeBool=*/false)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": expected ", n, " integer assignments for a weight of ", weight_shape.size(),
        " dimensions with block size ", block_size));
  }
  const at::Tensor indices = assignments.to(at::kLong).contiguous();
  const int64_t* values = indices.data_ptr<int64_t>();
  std::vector<uint16_t> packed_values(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    if (values[j] < 0 || values[j] >= k) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": assignment ", values[j], " of subvector ", j, " is outside [0, ", k, ")"));
    }
    packed_values[j] = static_cast<uint16_t>(values[j]);
  }
  const int bits = AssignmentBits(k);
  MC_ASSIGN_OR_RETURN(std::string packed, quant::PackBitsToString(packed_values, bits));

  serialization::CompressedTensor stored;
  stored.set_name(name);
  for (const int64_t size : weight_shape) stored.add_shape(size);
  serialization::CodebookEncoding& encoding = *stored.mutable_codebook();
  encoding.set_block_size(block_size);
  encoding.set_num_centroids(k);
  encoding.set_centroid_dtype(serialization::FLOAT16);
  *encoding.mutable_centroids() =
      serialization::EncodePassthrough(name, centroids, serialization::FLOAT16).passthrough().data();
  encoding.set_assignment_bits(bits);
  encoding.set_assignments(std::move(packed));
  encoding.set_layout(CodebookLayoutName(weight_shape));
  return stored;
}

absl::StatusOr<DecodedCodebook> DecodeCodebookParts(const serialization::CompressedTensor& stored) {
  const std::string& name = stored.name();
  if (!stored.has_codebook()) {
    return absl::DataLossError(absl::StrCat("tensor ", name, " is not codebook-encoded"));
  }
  const serialization::CodebookEncoding& encoding = stored.codebook();
  DecodedCodebook decoded;
  decoded.shape.assign(stored.shape().begin(), stored.shape().end());
  const std::string layout = CodebookLayoutName(decoded.shape);
  if (layout.empty() || encoding.layout() != layout) {
    return absl::DataLossError(absl::StrCat("tensor ", name, ": layout \"", encoding.layout(),
                                            "\" does not fit its ", decoded.shape.size(),
                                            "-D shape (expected \"conv\" for 4-D, \"linear\" for 2-D)"));
  }
  MC_RETURN_IF_ERROR(serialization::NumElements(stored).status());
  absl::StatusOr<int64_t> n = NumSubvectors(decoded.shape, encoding.block_size());
  MC_RETURN_IF_ERROR(AsDataLoss(n.status(), name));
  const int64_t k = encoding.num_centroids();
  if (k < 1 || k > kMaxStoredCentroids) {
    return absl::DataLossError(absl::StrCat("tensor ", name, ": num_centroids ", k,
                                            " is outside [1, ", kMaxStoredCentroids, "]"));
  }
  if (encoding.centroid_dtype() != serialization::FLOAT16 &&
      encoding.centroid_dtype() != serialization::FLOAT32) {
    return absl::DataLossError(absl::StrCat("tensor ", name, ": centroid dtype ",
                                            static_cast<int>(encoding.centroid_dtype()),
                                            " is not FLOAT16 or FLOAT32"));
  }
  serialization::CompressedTensor table = CentroidTable(name, k, encoding.block_size());
  table.mutable_passthrough()->set_dtype(encoding.centroid_dtype());
  table.mutable_passthrough()->set_data(encoding.centroids());
  MC_ASSIGN_OR_RETURN(decoded.centroids, serialization::DecodePassthrough(table));

  const int bits = AssignmentBits(k);
  if (encoding.assignment_bits() != static_cast<uint32_t>(bits)) {
    return absl::DataLossError(absl::StrCat("tensor ", name, ": ", k, " centroids need ", bits,
                                            "-bit assignments, the encoding says ",
                                            encoding.assignment_bits()));
  }
  absl::StatusOr<std::vector<uint16_t>> values =
      quant::UnpackBitsFromString(encoding.assignments(), bits, static_cast<size_t>(*n));
  if (!values.ok()) {
    return absl::DataLossError(
        absl::StrCat("tensor ", name, ": assignments: ", values.status().message()));
  }
  decoded.assignments = at::empty({*n}, at::kLong);
  int64_t* out = decoded.assignments.data_ptr<int64_t>();
  for (int64_t j = 0; j < *n; ++j) {
    if ((*values)[j] >= k) {
      return absl::DataLossError(absl::StrCat("tensor ", name, ": assignment ", (*values)[j],
                                              " of subvector ", j, " is past the ", k, " centroids"));
    }
    out[j] = (*values)[j];
  }
  return decoded;
}

absl::StatusOr<at::Tensor> DecodeCodebook(const serialization::CompressedTensor& stored) {
  MC_ASSIGN_OR_RETURN(const DecodedCodebook decoded, DecodeCodebookParts(stored));
  absl::StatusOr<at::Tensor> weight =
      ReconstructWeight(decoded.centroids, decoded.assignments, decoded.shape);
  MC_RETURN_IF_ERROR(AsDataLoss(weight.status(), stored.name()));
  return *std::move(weight);
}

}  // namespace mc::vq
