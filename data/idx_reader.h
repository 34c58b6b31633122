// File: idx_reader.h
// Reader for the IDX files of MNIST and Fashion-MNIST (train-images-idx3-ubyte.gz, ...),
// gzip-compressed or plain. Every malformed file (truncated, wrong magic number, counts
// that disagree, labels out of range) is reported as an error naming the file.
//
// Format (big-endian): bytes 0-1 zero, byte 2 the element type (0x08 = unsigned byte, the
// only type these data sets use), byte 3 the number of dimensions D, then D uint32 sizes,
// then the elements in row-major order. Image files are (N, rows, columns), label files (N).
//
// Example:
//   MC_ASSIGN_OR_RETURN(LabeledImages train,
//                       ReadIdxImages(dir + "/train-images-idx3-ubyte.gz",
//                                     dir + "/train-labels-idx1-ubyte.gz", /*num_classes=*/10));
#ifndef MC_DATA_IDX_READER_H_
#define MC_DATA_IDX_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/labeled_images.h"

namespace mc::data {

/// The element type code of unsigned bytes in an IDX header.
inline constexpr uint8_t kIdxUnsignedByte = 0x08;

/// An IDX array of unsigned bytes.
struct IdxArray {
  /// Size of each dimension, outermost first.
  std::vector<int64_t> dims;
  /// The product of `dims` elements, row-major.
  std::vector<uint8_t> values;
};

/// Reads the IDX file at `path`, gzip-compressed or plain.
/// \error kNotFound if the file does not exist.
/// \error kDataLoss if the file is truncated or has bytes after the data, or its gzip
///        stream is corrupt.
/// \error kInvalidArgument if the magic number is not that of an IDX file, or the element
///        type is not unsigned byte.
absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path);

/// Reads an image file of shape (N, rows, columns) and a label file of shape (N) into N
/// single-channel images with labels in [0, num_classes).
/// \error as ReadIdxFile, plus kInvalidArgument if a file has the wrong number of
///        dimensions, the two counts N differ, a label is >= num_classes, or rows x columns
///        does not fit in int64_t (LabeledImages::image_size()).
absl::StatusOr<LabeledImages> ReadIdxImages(const std::string& images_path,
                                            const std::string& labels_path, int64_t num_classes);

}  // namespace mc::data

#endif  // MC_DATA_IDX_READER_H_
