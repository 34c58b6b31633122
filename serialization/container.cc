#include "serialization/container.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "serialization/little_endian.h"

namespace mc::serialization {
namespace {

constexpr size_t kMagicBytes = 8;

uint32_t Crc32(absl::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib's crc32 takes a uInt length: feed large payloads in chunks.
  constexpr size_t kChunk = 1u << 30;
  for (size_t offset = 0; offset < bytes.size(); offset += kChunk) {
    const size_t length = std::min(kChunk, bytes.size() - offset);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + offset),
                static_cast<uInt>(length));
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace

std::string EncodeContainer(const ContainerFormat& format, absl::string_view payload) {
  std::string out(format.magic, kMagicBytes);
  AppendLittleEndian(out, format.version, 4);
  AppendLittleEndian(out, payload.size(), 8);
  AppendLittleEndian(out, Crc32(payload), 4);
  out.append(payload.data(), payload.size());
  return out;
}

absl::StatusOr<ContainerPayload> DecodeContainer(const ContainerFormat& format,
                                                 absl::string_view bytes,
                                                 absl::string_view source) {
  if (bytes.size() < kContainerHeaderBytes) {
    return absl::DataLossError(absl::StrCat(source, ": truncated ", format.what, " (",
                                            bytes.size(), " bytes, the header alone is ",
                                            kContainerHeaderBytes, ")"));
  }
  if (std::memcmp(bytes.data(), format.magic, kMagicBytes) != 0) {
    return absl::DataLossError(
        absl::StrCat(source, ": not a ", format.what, " (bad magic number)"));
  }
  const auto version = static_cast<uint32_t>(ReadLittleEndian(bytes, 8, 4));
  if (version < format.min_version || version > format.version) {
    return absl::FailedPreconditionError(absl::StrCat(
        source, ": ", format.what, " format version ", version,
        " is not supported (this build reads versions ", format.min_version, " to ",
        format.version, ")"));
  }
  const uint64_t length = ReadLittleEndian(bytes, 12, 8);
  const uint64_t available = bytes.size() - kContainerHeaderBytes;
  if (length != available) {
    return absl::DataLossError(absl::StrCat(
        source, length > available ? ": truncated " : ": trailing bytes in ", format.what,
        " (header says ", length, " payload bytes, file has ", available, ")"));
  }
  const absl::string_view payload = bytes.substr(kContainerHeaderBytes);
  const auto expected_crc = static_cast<uint32_t>(ReadLittleEndian(bytes, 20, 4));
  const uint32_t actual_crc = Crc32(payload);
  if (expected_crc != actual_crc) {
    return absl::DataLossError(absl::StrCat(source, ": corrupt ", format.what, " (CRC-32 ",
                                            actual_crc, " does not match the recorded ",
                                            expected_crc, ")"));
  }
  return ContainerPayload{payload, version};
}

}  // namespace mc::serialization
