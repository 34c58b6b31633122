#include "data/file_contents.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace mc::data {
namespace {

constexpr uint8_t kGzipMagic[2] = {0x1f, 0x8b};
constexpr size_t kGzipTrailerBytes = 8;  // CRC-32, then the size modulo 2^32
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr size_t kOutputChunk = size_t{1} << 20;

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

absl::StatusOr<std::vector<uint8_t>> ReadRawFile(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  std::vector<uint8_t> bytes;
  if (std::fseek(file.get(), 0, SEEK_END) == 0) {
    const long size = std::ftell(file.get());
    if (size > 0) bytes.reserve(static_cast<size_t>(size));
    std::rewind(file.get());
  }
  uint8_t buffer[1 << 16];
  size_t count;
  while ((count = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    bytes.insert(bytes.end(), buffer, buffer + count);
  }
  if (std::ferror(file.get())) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
  }
  return bytes;
}

bool IsGzip(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == kGzipMagic[0] && bytes[1] == kGzipMagic[1];
}

absl::StatusOr<std::vector<uint8_t>> Gunzip(const std::vector<uint8_t>& compressed,
                                            const std::string& path) {
  z_stream stream{};
  // 16 + MAX_WBITS: expect a gzip header and trailer, with the largest window.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError(absl::StrCat("cannot initialise zlib to read ", path));
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> cleanup(&stream, inflateEnd);
  // The trailer's last four bytes hold the uncompressed size modulo 2^32: for an intact
  // single-member file, reserving it avoids reallocation. A damaged trailer can hold any
  // value, so the reservation is capped by deflate's largest compression ratio.
  const size_t n = compressed.size();
  const uint64_t size_hint = n < kGzipTrailerBytes
                                 ? 0
                                 : compressed[n - 4] | compressed[n - 3] << 8 |
                                       compressed[n - 2] << 16 | uint32_t{compressed[n - 1]} << 24;
  std::vector<uint8_t> output;
  output.reserve(std::min<uint64_t>(size_hint, uint64_t{n} * kMaxDeflateRatio) + 1);
  stream.next_in = const_cast<Bytef*>(compressed.data());
  stream.avail_in = static_cast<uInt>(n);
  size_t produced = 0;
  while (true) {
    if (produced == output.size()) {
      output.resize(std::max(output.capacity(), produced + kOutputChunk));
    }
    stream.next_out = output.data() + produced;
    stream.avail_out = static_cast<uInt>(output.size() - produced);
    const int result = inflate(&stream, Z_NO_FLUSH);
    produced = output.size() - stream.avail_out;
    if (result == Z_STREAM_END) {
      if (stream.avail_in == 0) break;
      // Another gzip member follows.
      if (inflateReset(&stream) != Z_OK) {
        return absl::DataLossError(absl::StrCat(path, ": corrupt gzip stream"));
      }
      continue;
    }
    // The output always has room, so "no progress possible" means the input ran out.
    if (result == Z_BUF_ERROR) {
      return absl::DataLossError(
          absl::StrCat(path, ": truncated gzip stream (the compressed data ends early)"));
    }
    if (result != Z_OK) {
      return absl::DataLossError(absl::StrCat(
          path, ": corrupt gzip stream (", stream.msg != nullptr ? stream.msg : "zlib error", ")"));
    }
  }
  output.resize(produced);
  return output;
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> ReadFileContents(const std::string& path) {
  absl::StatusOr<std::vector<uint8_t>> bytes = ReadRawFile(path);
  if (!bytes.ok() || !IsGzip(*bytes)) return bytes;
  return Gunzip(*bytes, path);
}

}  // namespace mc::data
