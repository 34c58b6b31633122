// File: seed_files.h
// What the programs that write seed corpora share: writing one model file and checking the
// command line (one argument, the corpus directory).
#ifndef MC_TESTS_FUZZ_SEED_FILES_H_
#define MC_TESTS_FUZZ_SEED_FILES_H_

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "serialization/compressed_model.pb.h"
#include "serialization/model_file.h"

namespace mc::fuzz {

/// Writes `model` to `path`; prints the error and returns false when that fails.
inline bool WriteSeed(const std::string& path, const serialization::CompressedModel& model) {
  const absl::Status status = serialization::WriteModelFile(path, model);
  if (!status.ok()) std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
  return status.ok();
}

/// The corpus directory given as the only argument, or empty after printing the usage.
inline std::string SeedDirectory(int argc, char** argv) {
  if (argc == 2) return argv[1];
  std::fprintf(stderr, "usage: %s <directory>\n", argv[0]);
  return "";
}

}  // namespace mc::fuzz

#endif  // MC_TESTS_FUZZ_SEED_FILES_H_
