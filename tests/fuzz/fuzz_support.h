// File: fuzz_support.h
// What the harnesses of tests/fuzz share: a temporary file for the readers that take a path,
// and a check that turns a broken promise of a reader into a crash libFuzzer records.
//
// Example:
//   static mc::fuzz::TempFile file;
//   file.Write(data, size);
//   absl::StatusOr<IdxArray> array = ReadIdxFile(file.path());
//   mc::fuzz::Require(!array.ok() || array->dims.size() > 0, "an IDX array has dimensions");
#ifndef MC_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define MC_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace mc::fuzz {

/// Aborts with `what` when `condition` is false: a reader returned OK with a result that
/// breaks its documented contract.
inline void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz: broken promise: %s\n", what);
  std::abort();
}

/// A file that each input overwrites, removed at exit: in $TMPDIR if set, else in /dev/shm
/// when there is one. Memory-backed is faster by far: ext4 starts writing a file back when it
/// is closed after being truncated and rewritten, which made the idx harness ten times
/// slower on /tmp here.
class TempFile {
 public:
  TempFile() {
    const char* dir = std::getenv("TMPDIR");
    if (dir == nullptr || *dir == '\0') dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    path_ = std::string(dir) + "/mc_fuzz_XXXXXX";
    const int fd = mkstemp(path_.data());
    Require(fd >= 0, "mkstemp creates the temporary file");
    close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  /// Replaces the file's content with `size` bytes at `data`.
  void Write(const void* data, size_t size) {
    std::FILE* file = std::fopen(path_.c_str(), "wb");
    Require(file != nullptr, "the temporary file opens for writing");
    Require(size == 0 || std::fwrite(data, 1, size, file) == size,
            "the input is written to the temporary file");
    Require(std::fclose(file) == 0, "the temporary file is closed");
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace mc::fuzz

#endif  // MC_TESTS_FUZZ_FUZZ_SUPPORT_H_
