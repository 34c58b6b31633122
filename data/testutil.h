// File: testutil.h
// Test utilities of the data package: scratch directories, and writers of small files in the
// published IDX and CIFAR formats, built byte by byte from the format descriptions so that
// the readers are checked against the formats, not against themselves.
//
// Example:
//   const std::string dir = MakeTestDir("round_trip");
//   WriteFile(dir + "/labels.gz", IdxFileBytes({3}, {1, 2, 3}), Compression::kGzip);
#ifndef MC_DATA_TESTUTIL_H_
#define MC_DATA_TESTUTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "data/cifar_reader.h"
#include "data/labeled_images.h"

namespace mc::data {

enum class Compression { kNone, kGzip };

/// Creates (empty) and returns the directory `name` under the test's scratch directory.
std::string MakeTestDir(const std::string& name);

/// Writes `bytes` to `path`, gzip-compressed or not. Fails the test on I/O errors.
void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes,
               Compression compression = Compression::kNone);

/// The bytes of an IDX file of unsigned bytes with sizes `dims` holding `values`.
std::vector<uint8_t> IdxFileBytes(const std::vector<int64_t>& dims,
                                  const std::vector<uint8_t>& values);

/// `count` images of shape (channels, height, width) whose pixels and labels (in
/// [0, num_classes)) follow a simple formula, distinct for every image.
LabeledImages PatternedImages(int64_t count, int64_t channels, int64_t height, int64_t width,
                              int64_t num_classes);

/// The bytes of a CIFAR binary file holding `images` (3x32x32). CIFAR-100 records get the
/// coarse label fine / 5.
std::vector<uint8_t> CifarFileBytes(const LabeledImages& images, CifarVariant variant);

}  // namespace mc::data

#endif  // MC_DATA_TESTUTIL_H_
