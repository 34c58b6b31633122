#include "runtime/weight_loading.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "quant/bitpack.h"
#include "quant/learned_points.h"
#include "quant/uniform_codec.h"
#include "runtime/byte_levels.h"
#include "serialization/tensor_codec.h"
#include "vq/codebook_codec.h"

namespace mc::runtime {
namespace {

// The element groups of a uniform tensor: flat index f has width widths[f / width_group]
// (or `width` alone) and range group f / scale_group (0: one group).
struct UniformGroups {
  int64_t width_group = 0;
  std::vector<uint8_t> widths;  // one per width group, or one for the tensor
  int64_t scale_group = 0;
  int64_t scale_groups = 1;
  int max_width = 0;

  int WidthAt(int64_t flat) const {
    return widths.size() == 1 ? widths[0] : widths[flat / width_group];
  }
  int64_t ScaleGroupAt(int64_t flat) const { return scale_group > 0 ? flat / scale_group : 0; }
};

UniformGroups GroupsOf(const quant::DecodedUniform& decoded) {
  UniformGroups groups;
  const at::Tensor widths = decoded.bits.contiguous();
  for (int64_t i = 0; i < widths.numel(); ++i) {
    groups.widths.push_back(static_cast<uint8_t>(widths.data_ptr<int64_t>()[i]));
  }
  groups.max_width = *std::max_element(groups.widths.begin(), groups.widths.end());
  groups.width_group = decoded.layout.bit_group_size;
  groups.scale_group = decoded.layout.scale_group_size;
  if (decoded.step.defined()) groups.scale_group = 0;
  groups.scale_groups = decoded.step.defined() ? 1 : decoded.quantized.min.numel();
  return groups;
}

// (offset, scale) of range group `group` at `width` bits: value = offset + scale * level.
std::pair<float, float> AffineMap(const quant::DecodedUniform& decoded, int64_t group, int width) {
  if (decoded.step.defined()) {
    const float step = decoded.step.item<float>();
    return {-static_cast<float>(decoded.zero_level) * step, step};
  }
  const float min = decoded.quantized.min.data_ptr<float>()[group];
  const float max = decoded.quantized.max.data_ptr<float>()[group];
  return {min, (max - min) / static_cast<float>((int64_t{1} << width) - 1)};
}

// AffineMap per (range group, width 1..stride - 1), indexed [group * stride + width].
void FillAffine(const quant::DecodedUniform& decoded, const UniformGroups& groups, int stride,
                std::vector<float>& offsets, std::vector<float>& scales) {
  offsets.assign(groups.scale_groups * stride, 0.0f);
  scales.assign(groups.scale_groups * stride, 0.0f);
  for (int64_t group = 0; group < groups.scale_groups; ++group) {
    for (int width = 1; width < stride; ++width) {
      std::tie(offsets[group * stride + width], scales[group * stride + width]) =
          AffineMap(decoded, group, width);
    }
  }
}

// The widest block (32, 16 or 8 columns) inside which every block of every row keeps one
// width and one range group; 0 if none does.
int AlignedBlock(const UniformGroups& groups, int64_t rows, int64_t cols) {
  for (const int block : {32, 16, 8}) {
    bool aligned = true;
    for (int64_t row = 0; row < rows && aligned; ++row) {
      for (int64_t begin = 0; begin < cols && aligned; begin += block) {
        const int64_t first = row * cols + begin;
        const int64_t last = row * cols + std::min(cols, begin + block) - 1;
        aligned = groups.ScaleGroupAt(first) == groups.ScaleGroupAt(last) &&
                  (groups.widths.size() == 1 ||
                   first / groups.width_group == last / groups.width_group);
      }
    }
    if (aligned) return block;
  }
  return 0;
}

// The levels of every element, flat.
std::vector<uint16_t> LevelsOf(const quant::DecodedUniform& decoded) {
  const at::Tensor levels = decoded.quantized.levels.reshape({-1}).to(at::kInt).contiguous();
  return {levels.data_ptr<int32_t>(), levels.data_ptr<int32_t>() + levels.numel()};
}

// The width and range group of every block of `block` columns, rows x ceil(cols / block),
// row-major, for a tensor whose groups line up with such blocks (AlignedBlock).
struct BlockGroups {
  std::vector<uint8_t> widths;
  std::vector<uint32_t> groups;
};

BlockGroups GroupsOfBlocks(const UniformGroups& groups, int block, int64_t rows, int64_t cols) {
  const int64_t blocks_per_row = (cols + block - 1) / block;
  BlockGroups blocks;
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t b = 0; b < blocks_per_row; ++b) {
      const int64_t first = row * cols + b * block;
      blocks.widths.push_back(static_cast<uint8_t>(groups.WidthAt(first)));
      blocks.groups.push_back(static_cast<uint32_t>(groups.ScaleGroupAt(first)));
    }
  }
  return blocks;
}

BlockedLevels ToBlockedLevels(const quant::DecodedUniform& decoded, const UniformGroups& groups,
                              const BlockGroups& blocks, int block, int64_t rows, int64_t cols) {
  const at::Tensor levels = decoded.quantized.levels.reshape({-1}).to(at::kByte).contiguous();
  std::vector<float> offsets, scales;
  FillAffine(decoded, groups, kAffineStride, offsets, scales);
  return BuildBlockedLevels(rows, cols, block, levels.data_ptr<uint8_t>(), blocks.widths.data(),
                            blocks.groups.data(), std::move(offsets), std::move(scales));
}

WideLevels ToWideLevels(const quant::DecodedUniform& decoded, const UniformGroups& groups,
                        const BlockGroups& blocks, int block, int64_t rows, int64_t cols) {
  const std::vector<uint16_t> levels = LevelsOf(decoded);
  return BuildWideLevels(rows, cols, block, levels.data(), blocks.widths.data(),
                         blocks.groups.data(), static_cast<uint32_t>(groups.scale_groups),
                         [&](uint32_t group, int width) {
                           return AffineMap(decoded, group, width);
                         });
}

RowCodes UniformToRowCodes(const quant::DecodedUniform& decoded, const UniformGroups& groups,
                           int64_t rows, int64_t cols) {
  RowCodes matrix;
  matrix.rows = rows;
  matrix.cols = cols;
  if (groups.widths.size() == 1) {
    matrix.bits = groups.widths[0];
  } else {
    matrix.widths = groups.widths;
    matrix.width_group_size = groups.width_group;
  }
  matrix.group_size = groups.scale_group;
  FillAffine(decoded, groups, kAffineWidths, matrix.affine_offset, matrix.affine_scale);
  PackRowCodes(LevelsOf(decoded), groups.max_width, matrix);
  return matrix;
}

ByteLevels ToByteLevels(const quant::DecodedUniform& decoded, const BlockGroups& blocks,
                        int block, int64_t rows, int64_t cols) {
  const std::vector<uint16_t> levels = LevelsOf(decoded);
  return BuildByteLevels(rows, cols, block, levels.data(), blocks.widths.data(),
                         [&](uint32_t group, int width) {
                           return AffineMap(decoded, group, width);
                         });
}

// Whether products run faster on ByteLevels than on packed blocks: one range, blocks of 8 or
// 16 columns, and widths that change inside more than a quarter of the blocked kernels' tiles.
bool PrefersByteLevels(const UniformGroups& groups, const BlockGroups& blocks, int block,
                       int64_t rows, int64_t cols) {
  return groups.scale_groups == 1 && block <= 16 &&
         MixesWidthsInTiles(rows, (cols + block - 1) / block, block, blocks.widths.data());
}

absl::StatusOr<WeightStorage> UniformStorage(const serialization::CompressedTensor& stored,
                                             int64_t rows, int64_t cols, WeightUse use) {
  MC_ASSIGN_OR_RETURN(const quant::DecodedUniform decoded, quant::DecodeUniformLevels(stored));
  const UniformGroups groups = GroupsOf(decoded);
  const int block = AlignedBlock(groups, rows, cols);
  if (block == 0) return UniformToRowCodes(decoded, groups, rows, cols);
  const BlockGroups blocks = GroupsOfBlocks(groups, block, rows, cols);
  if (use == WeightUse::kProducts && PrefersByteLevels(groups, blocks, block, rows, cols)) {
    return ToByteLevels(decoded, blocks, block, rows, cols);
  }
  if (groups.max_width <= 8) return ToBlockedLevels(decoded, groups, blocks, block, rows, cols);
  return ToWideLevels(decoded, groups, blocks, block, rows, cols);
}

absl::StatusOr<WeightStorage> LearnedPointsStorage(const serialization::CompressedTensor& stored,
                                                   int64_t rows, int64_t cols) {
  MC_ASSIGN_OR_RETURN(const quant::DecodedLearnedPoints decoded,
                      quant::DecodeLearnedPointsIndices(stored));
  RowCodes matrix;
  matrix.rows = rows;
  matrix.cols = cols;
  const at::Tensor points = decoded.points.contiguous();
  matrix.code_values.assign(points.data_ptr<float>(), points.data_ptr<float>() + points.numel());
  matrix.bits = quant::BitsFor(static_cast<uint32_t>(std::max<int64_t>(points.numel() - 1, 0)));
  matrix.group_size = decoded.scaling.bucket_size;
  const at::Tensor offset = decoded.scaling.offset.contiguous();
  const at::Tensor scale = decoded.scaling.scale.contiguous();
  matrix.affine_offset.assign(offset.numel() * kAffineWidths, 0.0f);
  matrix.affine_scale.assign(offset.numel() * kAffineWidths, 0.0f);
  for (int64_t bucket = 0; bucket < offset.numel(); ++bucket) {
    matrix.affine_offset[bucket * kAffineWidths + matrix.bits] = offset.data_ptr<float>()[bucket];
    matrix.affine_scale[bucket * kAffineWidths + matrix.bits] = scale.data_ptr<float>()[bucket];
  }
  const at::Tensor indices = decoded.indices.reshape({-1}).to(at::kInt).contiguous();
  const std::vector<uint16_t> codes(indices.data_ptr<int32_t>(),
                                    indices.data_ptr<int32_t>() + indices.numel());
  PackRowCodes(codes, matrix.bits, matrix);
  return matrix;
}

// Assignments are stored block-major (row j = b * rows + r, vq/layout.h); the codebook
// matrix wants them row-major (r, b).
absl::StatusOr<WeightStorage> CodebookStorage(const serialization::CompressedTensor& stored,
                                              int64_t rows, int64_t cols) {
  MC_ASSIGN_OR_RETURN(const vq::DecodedCodebook decoded, vq::DecodeCodebookParts(stored));
  const at::Tensor centroids = decoded.centroids.to(at::kFloat).contiguous();
  const int64_t block = centroids.size(1);
  const at::Tensor assignments =
      decoded.assignments.view({cols / block, rows}).t().contiguous().to(at::kLong);
  return MakeCodebookMatrix(rows, cols, block, centroids.data_ptr<float>(), centroids.numel(),
                            assignments.data_ptr<int64_t>(), assignments.numel());
}

absl::StatusOr<WeightStorage> DenseStorage(const serialization::CompressedTensor& stored,
                                           int64_t rows, int64_t cols) {
  MC_ASSIGN_OR_RETURN(const at::Tensor values, serialization::DecodePassthrough(stored));
  const at::Tensor floats = values.to(at::kFloat).contiguous();
  DenseMatrix matrix{rows, cols, {}};
  matrix.values.assign(floats.data_ptr<float>(), floats.data_ptr<float>() + floats.numel());
  return matrix;
}

absl::StatusOr<WeightStorage> Storage(const serialization::CompressedTensor& stored, int64_t rows,
                                      int64_t cols, WeightUse use) {
  switch (stored.encoding_case()) {
    case serialization::CompressedTensor::kPassthrough:
      return DenseStorage(stored, rows, cols);
    case serialization::CompressedTensor::kUniform:
      return UniformStorage(stored, rows, cols, use);
    case serialization::CompressedTensor::kLearnedPoints:
      return LearnedPointsStorage(stored, rows, cols);
    case serialization::CompressedTensor::kCodebook:
      return CodebookStorage(stored, rows, cols);
    case serialization::CompressedTensor::ENCODING_NOT_SET:
      break;
  }
  return absl::DataLossError(absl::StrCat("tensor ", stored.name(), " has no encoding"));
}

}  // namespace

absl::StatusOr<WeightMatrix> LoadWeightMatrix(const serialization::CompressedTensor& stored,
                                              WeightUse use) {
  MC_ASSIGN_OR_RETURN(const int64_t numel, serialization::NumElements(stored));
  if (stored.shape_size() < 2 || stored.shape(0) <= 0 || numel % stored.shape(0) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor ", stored.name(), " is not a weight matrix (", stored.shape_size(),
                     " dimensions)"));
  }
  const int64_t rows = stored.shape(0);
  try {
    MC_ASSIGN_OR_RETURN(WeightStorage storage, Storage(stored, rows, numel / rows, use));
    return WeightMatrix(std::move(storage));
  } catch (const std::invalid_argument& error) {
    return absl::DataLossError(absl::StrCat("tensor ", stored.name(), ": ", error.what()));
  } catch (const c10::Error& error) {
    return absl::DataLossError(
        absl::StrCat("tensor ", stored.name(), ": ", error.what_without_backtrace()));
  }
}

}  // namespace mc::runtime
