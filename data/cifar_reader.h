// File: cifar_reader.h
// Reader for the binary versions of CIFAR-10 and CIFAR-100 as published at
// https://www.cs.toronto.edu/~kriz/cifar.html (cifar-10-binary.tar.gz,
// cifar-100-binary.tar.gz). Missing files are reported by name with where to get them;
// truncated files and out-of-range labels are errors naming the file and record.
//
// Format: a file is a sequence of fixed-size records, one per 32x32 colour image.
//   CIFAR-10:  <label: 1 byte, 0-9> <pixels: 3072 bytes>                      (3073 bytes)
//   CIFAR-100: <coarse label: 1 byte, 0-19> <fine label: 1 byte, 0-99> <pixels> (3074 bytes)
// Pixels are channel-major: 1024 red, then 1024 green, then 1024 blue bytes, each plane
// row-major (CHW). The CIFAR-100 fine label is the class label.
//
// Example:
//   MC_ASSIGN_OR_RETURN(LabeledImages train,
//                       ReadCifar("/data", CifarVariant::kCifar10, Split::kTrain));
//   // reads /data/cifar-10-batches-bin/data_batch_{1..5}.bin: 50,000 images
#ifndef MC_DATA_CIFAR_READER_H_
#define MC_DATA_CIFAR_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset_info.h"
#include "data/labeled_images.h"

namespace mc::data {

/// Which CIFAR data set, and hence which record layout.
enum class CifarVariant { kCifar10, kCifar100 };

/// Bytes of pixels per CIFAR record: 3 channels of 32 x 32.
inline constexpr int64_t kCifarImageBytes = 3 * 32 * 32;

/// Bytes of one record: label bytes (1 for CIFAR-10, 2 for CIFAR-100) + kCifarImageBytes.
int64_t CifarRecordBytes(CifarVariant variant);

/// Files of `split`, relative to the data directory, in reading order:
/// cifar-10-batches-bin/data_batch_1.bin .. data_batch_5.bin and test_batch.bin;
/// cifar-100-binary/train.bin and test.bin.
std::vector<std::string> CifarFileNames(CifarVariant variant, Split split);

/// Reads and concatenates the records of the files at `paths`, in order.
/// \error kNotFound if a file does not exist.
/// \error kDataLoss if a file is empty or its size is not a whole number of records.
/// \error kInvalidArgument if a label is out of range.
absl::StatusOr<LabeledImages> ReadCifarFiles(const std::vector<std::string>& paths,
                                             CifarVariant variant);

/// Reads `split` of `variant` from `data_dir`, the directory into which the published
/// archive was extracted (so it holds cifar-10-batches-bin/ or cifar-100-binary/).
/// \error kNotFound naming every missing file and where to download them.
/// \error as ReadCifarFiles otherwise.
absl::StatusOr<LabeledImages> ReadCifar(const std::string& data_dir, CifarVariant variant,
                                        Split split);

}  // namespace mc::data

#endif  // MC_DATA_CIFAR_READER_H_
