// File: file_contents.h
// Reads a whole file into memory, decompressing it when it is gzip-compressed, so that the
// data set readers accept both the published .gz files and their uncompressed copies.
//
// Example:
//   MC_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadFileContents(path));
#ifndef MC_DATA_FILE_CONTENTS_H_
#define MC_DATA_FILE_CONTENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mc::data {

/// Returns the bytes of the file at `path`; a gzip file (magic bytes 1f 8b) is returned
/// decompressed, all of its members concatenated as gunzip does.
/// \error kNotFound (or the code of the errno) if the file cannot be opened or read.
/// \error kDataLoss if a gzip stream is corrupt or truncated.
absl::StatusOr<std::vector<uint8_t>> ReadFileContents(const std::string& path);

}  // namespace mc::data

#endif  // MC_DATA_FILE_CONTENTS_H_
