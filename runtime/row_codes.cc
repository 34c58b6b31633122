#include "runtime/row_codes.h"

#include <c10/util/Exception.h>

#include "absl/types/span.h"
#include "quant/bitpack.h"

namespace mc::runtime {

size_t RowCodes::ResidentBytes() const {
  return packed.size() + widths.size() +
         sizeof(float) * (affine_offset.size() + affine_scale.size() + code_values.size());
}

void PackRowCodes(const std::vector<uint16_t>& codes, int code_bits, RowCodes& matrix) {
  TORCH_CHECK(static_cast<int64_t>(codes.size()) == matrix.rows * matrix.cols,
              "PackRowCodes: ", codes.size(), " codes for ", matrix.rows, " x ", matrix.cols);
  matrix.code_bits = code_bits;
  matrix.row_bytes = static_cast<int64_t>(quant::PackedBytes(matrix.cols, code_bits));
  matrix.packed.assign(matrix.rows * matrix.row_bytes, 0);
  for (int64_t row = 0; row < matrix.rows; ++row) {
    const absl::Status packed = quant::PackBits(
        absl::MakeConstSpan(codes).subspan(row * matrix.cols, matrix.cols), code_bits,
        absl::MakeSpan(matrix.packed).subspan(row * matrix.row_bytes, matrix.row_bytes));
    TORCH_CHECK(packed.ok(), "PackRowCodes: ", packed.message());
  }
}

void DecodeRows(const RowCodes& matrix, int64_t row_begin, int64_t row_end, float* out) {
  TORCH_CHECK(0 <= row_begin && row_begin <= row_end && row_end <= matrix.rows,
              "DecodeRows: rows [", row_begin, ", ", row_end, ") of ", matrix.rows);
  std::vector<uint16_t> codes(matrix.cols);
  for (int64_t row = row_begin; row < row_end; ++row) {
    const absl::Status unpacked = quant::UnpackBits(
        absl::MakeConstSpan(matrix.packed).subspan(row * matrix.row_bytes, matrix.row_bytes),
        matrix.code_bits, absl::MakeSpan(codes));
    TORCH_CHECK(unpacked.ok(), "DecodeRows: ", unpacked.message());
    for (int64_t col = 0; col < matrix.cols; ++col) {
      const int64_t flat = row * matrix.cols + col;
      const int64_t group = matrix.group_size > 0 ? flat / matrix.group_size : 0;
      const int width =
          matrix.widths.empty() ? matrix.bits : matrix.widths[flat / matrix.width_group_size];
      const int64_t affine = group * kAffineWidths + width;
      const uint16_t code = codes[col];
      const float value = matrix.code_values.empty() ? static_cast<float>(code)
                                                     : matrix.code_values[code];
      *out++ = matrix.affine_offset[affine] + matrix.affine_scale[affine] * value;
    }
  }
}

}  // namespace mc::runtime
