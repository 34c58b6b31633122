#include "quant/uniform_codec.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "quant/bitpack.h"
#include "serialization/tensor_codec.h"

namespace mc::quant {
namespace {

// Bit-packs `values` at `width` bits; the callers guarantee that they fit.
std::string Pack(absl::Span<const uint16_t> values, int width) {
  absl::StatusOr<std::string> packed = PackBitsToString(values, width);
  TORCH_CHECK(packed.ok(), packed.status().message());
  return *std::move(packed);
}

// Elements in group `group` of `groups` groups of `group_size` covering `numel`.
int64_t GroupElements(int64_t group, int64_t groups, int64_t numel, int64_t group_size) {
  if (groups == 1) return numel;
  return group + 1 < groups ? group_size : numel - group * group_size;
}

// Counts of the elements stored at each width, indexed by width.
using WidthCounts = std::array<int64_t, kMaxPackBits + 1>;

// Reads the step form: one float32 step, and a zero level that fits in the single `width`.
absl::Status DecodeStepForm(const serialization::UniformEncoding& encoding,
                            const std::string& name, int64_t width, DecodedUniform& decoded) {
  if (!encoding.scale_min().empty() || !encoding.scale_max().empty() ||
      encoding.scale_group_size() != 0 || !encoding.group_bits().empty()) {
    return absl::DataLossError(absl::StrCat(
        "tensor ", name, ": the step form has one width and one step, but the encoding also "
        "has ranges, scale groups or a width table"));
  }
  MC_ASSIGN_OR_RETURN(const at::Tensor step,
                      serialization::Float32sFromBytes(encoding.step(), 1, "step", name));
  decoded.step = step.reshape({});
  decoded.zero_level = encoding.zero_level();
  if (decoded.zero_level >= (int64_t{1} << width)) {
    return absl::DataLossError(absl::StrCat("tensor ", name, ": zero level ", decoded.zero_level,
                                            " does not fit in ", width, " bits"));
  }
  return absl::OkStatus();
}

// Reads the (min, max) range of every scale group.
absl::Status DecodeRanges(const serialization::UniformEncoding& encoding, const std::string& name,
                          int64_t numel, UniformQuantized& quantized) {
  const int64_t scale_groups = NumGroups(numel, encoding.scale_group_size());
  MC_ASSIGN_OR_RETURN(quantized.min, serialization::Float32sFromBytes(
                                         encoding.scale_min(), scale_groups, "scale_min", name));
  MC_ASSIGN_OR_RETURN(quantized.max, serialization::Float32sFromBytes(
                                         encoding.scale_max(), scale_groups, "scale_max", name));
  return absl::OkStatus();
}

// The `numel` levels of a tensor stored at one width, in element order.
absl::StatusOr<std::vector<uint16_t>> UnpackSingleWidthLevels(const std::string& packed,
                                                              const std::string& name,
                                                              int64_t width, int64_t numel) {
  absl::StatusOr<std::vector<uint16_t>> unpacked =
      UnpackBitsFromString(packed, static_cast<int>(width), static_cast<size_t>(numel));
  if (!unpacked.ok()) {
    return absl::DataLossError(
        absl::StrCat("tensor ", name, ": levels: ", unpacked.status().message()));
  }
  return unpacked;
}

// Elements of each width over the `groups` groups with widths `widths`.
WidthCounts CountElementsByWidth(const std::vector<int64_t>& widths, int64_t groups,
                                 int64_t numel, int64_t group_size) {
  WidthCounts count_by_width{};
  for (int64_t g = 0; g < groups; ++g) {
    count_by_width[widths[g]] += GroupElements(g, groups, numel, group_size);
  }
  return count_by_width;
}

// Checks that the packed levels take exactly the bytes their widths need.
absl::Status CheckPackedLevelBytes(const std::string& packed, const std::string& name,
                                   const WidthCounts& count_by_width) {
  size_t expected = 0;
  for (int width = kMinPackBits; width <= kMaxPackBits; ++width) {
    expected += PackedBytes(count_by_width[width], width);
  }
  if (packed.size() < expected) {
    return absl::DataLossError(absl::StrCat("tensor ", name, ": levels are truncated (",
                                            packed.size(), " bytes, their widths take ",
                                            expected, ")"));
  }
  if (packed.size() > expected) {
    return absl::DataLossError(absl::StrCat("tensor ", name, ": ", packed.size() - expected,
                                            " bytes of levels left over"));
  }
  return absl::OkStatus();
}

// The `numel` levels of a tensor with one width per group, in element order: each width's
// array (uniform_codec.h) is unpacked and its values go back to the groups of that width.
absl::StatusOr<std::vector<uint16_t>> UnpackMixedWidthLevels(const std::string& packed,
                                                             const std::string& name,
                                                             const std::vector<int64_t>& widths,
                                                             int64_t numel, int64_t group_size) {
  const int64_t groups = NumGroups(numel, group_size);
  const WidthCounts count_by_width = CountElementsByWidth(widths, groups, numel, group_size);
  MC_RETURN_IF_ERROR(CheckPackedLevelBytes(packed, name, count_by_width));
  std::vector<uint16_t> levels(numel);
  size_t offset = 0;
  std::vector<uint16_t> values;
  for (int width = kMinPackBits; width <= kMaxPackBits; ++width) {
    const int64_t count = count_by_width[width];
    if (count == 0) continue;
    const size_t bytes = PackedBytes(count, width);
    values.resize(count);
    MC_RETURN_IF_ERROR(UnpackBits(
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(packed.data()) + offset, bytes),
        width, absl::MakeSpan(values)));
    offset += bytes;
    int64_t next = 0;
    for (int64_t g = 0; g < groups; ++g) {
      if (widths[g] != width) continue;
      const int64_t begin = g * group_size;
      const int64_t elements = GroupElements(g, groups, numel, group_size);
      std::copy(values.begin() + next, values.begin() + next + elements, levels.begin() + begin);
      next += elements;
    }
  }
  return levels;
}

}  // namespace

int64_t UniformLevelBits(int64_t numel, const at::Tensor& bits, int64_t bit_group_size) {
  return ElementBits(bits, numel, bit_group_size).sum().item<int64_t>();
}

serialization::UniformEncoding EncodeUniform(const UniformQuantized& quantized,
                                             const at::Tensor& bits, const UniformLayout& layout,
                                             c10::optional<int64_t> width_offset) {
  const int64_t numel = quantized.levels.numel();
  const int64_t groups = NumGroups(numel, layout.bit_group_size);
  const at::Tensor widths = bits.to(at::kLong).reshape({-1}).contiguous();
  TORCH_CHECK(widths.numel() == 1 || widths.numel() == groups, "expected 1 or ", groups,
              " widths, got ", widths.numel());
  serialization::UniformEncoding encoding;
  encoding.set_group_size(layout.bit_group_size);
  encoding.set_scale_group_size(layout.scale_group_size);
  encoding.set_scale_min(serialization::Float32Bytes(quantized.min));
  encoding.set_scale_max(serialization::Float32Bytes(quantized.max));

  const at::Tensor levels = quantized.levels.reshape({-1}).to(at::kInt).contiguous();
  const int32_t* level_data = levels.data_ptr<int32_t>();
  const int64_t* width_data = widths.data_ptr<int64_t>();
  const int64_t max_width = widths.max().item<int64_t>();
  const int64_t min_width = width_offset.value_or(widths.min().item<int64_t>());
  TORCH_CHECK(min_width <= widths.min().item<int64_t>(), "width offset ", min_width,
              " exceeds the smallest width");
  if (min_width == max_width) {
    encoding.set_bits(static_cast<uint32_t>(min_width));
    encoding.set_levels(
        Pack(std::vector<uint16_t>(level_data, level_data + numel), static_cast<int>(min_width)));
    return encoding;
  }
  const int table_width = BitsFor(static_cast<uint32_t>(max_width - min_width));
  std::vector<uint16_t> table(groups);
  for (int64_t g = 0; g < groups; ++g) table[g] = static_cast<uint16_t>(width_data[g] - min_width);
  encoding.set_group_bits(Pack(table, table_width));
  encoding.set_group_bits_width(static_cast<uint32_t>(table_width));
  encoding.set_group_bits_offset(static_cast<uint32_t>(min_width));
  std::string packed_all;
  std::vector<uint16_t> values;
  for (int width = kMinPackBits; width <= kMaxPackBits; ++width) {
    values.clear();
    for (int64_t g = 0; g < groups; ++g) {
      if (width_data[g] != width) continue;
      const int64_t begin = g * layout.bit_group_size;
      const int64_t count = GroupElements(g, groups, numel, layout.bit_group_size);
      values.insert(values.end(), level_data + begin, level_data + begin + count);
    }
    if (values.empty()) continue;
    packed_all += Pack(values, width);
  }
  encoding.set_levels(std::move(packed_all));
  return encoding;
}

serialization::UniformEncoding EncodeUniformStep(const at::Tensor& levels, int64_t bits,
                                                 int64_t zero_level, float step) {
  TORCH_CHECK(bits >= kMinPackBits && bits <= kMaxPackBits, "bit width must be in [1, 16], got ",
              bits);
  const int64_t max_level = (int64_t{1} << bits) - 1;
  TORCH_CHECK(zero_level >= 0 && zero_level <= max_level, "zero level ", zero_level,
              " outside [0, ", max_level, "]");
  const at::Tensor flat = levels.reshape({-1}).to(at::kInt).contiguous();
  TORCH_CHECK(flat.numel() > 0, "cannot encode an empty tensor");
  TORCH_CHECK(flat.min().item<int64_t>() >= 0 && flat.max().item<int64_t>() <= max_level,
              "levels must be in [0, ", max_level, "], got [", flat.min().item<int64_t>(), ", ",
              flat.max().item<int64_t>(), "]");
  const int32_t* data = flat.data_ptr<int32_t>();
  serialization::UniformEncoding encoding;
  encoding.set_bits(static_cast<uint32_t>(bits));
  encoding.set_zero_level(static_cast<uint32_t>(zero_level));
  encoding.set_step(serialization::Float32Bytes(at::scalar_tensor(step, at::kFloat)));
  encoding.set_levels(
      Pack(std::vector<uint16_t>(data, data + flat.numel()), static_cast<int>(bits)));
  return encoding;
}

absl::StatusOr<at::Tensor> DecodeUniformWidths(const serialization::CompressedTensor& stored) {
  const std::string& name = stored.name();
  if (!stored.has_uniform()) {
    return absl::DataLossError(absl::StrCat("tensor ", name, " is not uniform-encoded"));
  }
  const serialization::UniformEncoding& encoding = stored.uniform();
  MC_ASSIGN_OR_RETURN(const int64_t numel, serialization::NumElements(stored));
  if (numel == 0) return absl::DataLossError(absl::StrCat("tensor ", name, " is empty"));
  if (encoding.group_size() < 0 || encoding.scale_group_size() < 0) {
    return absl::DataLossError(absl::StrCat("tensor ", name, ": negative group size"));
  }
  const int64_t groups = NumGroups(numel, encoding.group_size());
  std::vector<int64_t> widths;
  if (encoding.group_bits().empty()) {
    widths.push_back(encoding.bits());
  } else {
    const uint32_t table_width = encoding.group_bits_width();
    if (table_width < kMinPackBits || table_width > kMaxPackBits ||
        encoding.group_bits().size() != PackedBytes(groups, table_width)) {
      return absl::DataLossError(absl::StrCat("tensor ", name, ": width table of ",
                                              encoding.group_bits().size(), " bytes at ",
                                              table_width, " bits does not fit ", groups, " groups"));
    }
    MC_ASSIGN_OR_RETURN(const std::vector<uint16_t> table,
                        UnpackBitsFromString(encoding.group_bits(), static_cast<int>(table_width),
                                             static_cast<size_t>(groups)));
    for (const uint16_t entry : table) widths.push_back(encoding.group_bits_offset() + entry);
  }
  for (const int64_t width : widths) {
    if (width < kMinPackBits || width > kMaxPackBits) {
      return absl::DataLossError(
          absl::StrCat("tensor ", name, ": bit width ", width, " outside [1, 16]"));
    }
  }
  return at::tensor(widths, at::kLong);
}

absl::StatusOr<DecodedUniform> DecodeUniformLevels(const serialization::CompressedTensor& stored) {
  const std::string& name = stored.name();
  MC_ASSIGN_OR_RETURN(at::Tensor bits, DecodeUniformWidths(stored));
  const serialization::UniformEncoding& encoding = stored.uniform();
  MC_ASSIGN_OR_RETURN(const int64_t numel, serialization::NumElements(stored));
  DecodedUniform decoded;
  decoded.layout.bit_group_size = encoding.group_size();
  decoded.layout.scale_group_size = encoding.scale_group_size();
  const std::vector<int64_t> widths(bits.data_ptr<int64_t>(), bits.data_ptr<int64_t>() + bits.numel());
  decoded.bits = bits;
  if (!encoding.step().empty()) {
    MC_RETURN_IF_ERROR(DecodeStepForm(encoding, name, widths[0], decoded));
  } else {
    MC_RETURN_IF_ERROR(DecodeRanges(encoding, name, numel, decoded.quantized));
  }

  // The size of the packed levels is checked before the levels are allocated: a corrupt
  // shape can promise far more elements than the file holds.
  MC_ASSIGN_OR_RETURN(
      const std::vector<uint16_t> levels,
      widths.size() == 1
          ? UnpackSingleWidthLevels(encoding.levels(), name, widths[0], numel)
          : UnpackMixedWidthLevels(encoding.levels(), name, widths, numel, encoding.group_size()));
  const std::vector<int64_t> shape(stored.shape().begin(), stored.shape().end());
  decoded.quantized.levels =
      at::tensor(std::vector<int32_t>(levels.begin(), levels.end()), at::kInt).view(shape);
  return decoded;
}

absl::StatusOr<at::Tensor> DecodeUniform(const serialization::CompressedTensor& stored) {
  MC_ASSIGN_OR_RETURN(const DecodedUniform decoded, DecodeUniformLevels(stored));
  if (decoded.step.defined()) {
    // Exact integers in float32 (|level - zero_level| < 2^16), then one product.
    return (decoded.quantized.levels - decoded.zero_level).to(at::kFloat) * decoded.step;
  }
  return UniformUnquantize(decoded.quantized, decoded.bits, decoded.layout);
}

}  // namespace mc::quant
