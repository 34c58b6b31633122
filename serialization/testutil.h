// File: testutil.h
// Test fixtures for code that writes files: a full disk, simulated in the current process.
//
// Example (in a death test, so that only the child process is limited):
//   EXPECT_EXIT({ SimulateFullDisk(4096); std::exit(Save().ok() ? 0 : 1); },
//               ::testing::ExitedWithCode(1), "File too large");
#ifndef MC_SERIALIZATION_TESTUTIL_H_
#define MC_SERIALIZATION_TESTUTIL_H_

#include <cstdint>

namespace mc::serialization {

/// Makes every later write of this process that would take a file beyond `max_file_bytes`
/// fail with EFBIG ("File too large"), as a write to a full disk fails with ENOSPC: sets the
/// soft RLIMIT_FSIZE and ignores SIGXFSZ, which would otherwise end the process.
void SimulateFullDisk(uint64_t max_file_bytes);

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_TESTUTIL_H_
