#include "serialization/model_file.h"

#include <zlib.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "serialization/atomic_file.h"
#include "serialization/little_endian.h"

namespace mc::serialization {
namespace {

constexpr char kMagic[8] = {'M', 'C', 'M', 'O', 'D', 'E', 'L', '\x1a'};

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

std::string EncodeModelFile(const CompressedModel& model) {
  CompressedModel versioned = model;
  versioned.set_format_version(kModelFileVersion);
  const std::string payload = versioned.SerializeAsString();
  std::string out(kMagic, sizeof(kMagic));
  AppendLittleEndian(out, kModelFileVersion, 4);
  AppendLittleEndian(out, payload.size(), 8);
  AppendLittleEndian(out, Crc32(payload), 4);
  out += payload;
  return out;
}

absl::StatusOr<CompressedModel> DecodeModelFile(absl::string_view bytes,
                                                absl::string_view source) {
  if (bytes.size() < kModelFileHeaderBytes) {
    return absl::DataLossError(absl::StrCat(source, ": truncated model file (", bytes.size(),
                                            " bytes, the header alone is ",
                                            kModelFileHeaderBytes, ")"));
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError(
        absl::StrCat(source, ": not a compressed-model file (bad magic number)"));
  }
  const uint32_t version = static_cast<uint32_t>(ReadLittleEndian(bytes, 8, 4));
  if (version == 0 || version > kModelFileVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(source, ": model file format version ", version,
                     " is not supported (this build reads versions 1 to ", kModelFileVersion,
                     ")"));
  }
  const uint64_t length = ReadLittleEndian(bytes, 12, 8);
  const uint64_t available = bytes.size() - kModelFileHeaderBytes;
  if (length != available) {
    return absl::DataLossError(absl::StrCat(
        source, length > available ? ": truncated model file" : ": trailing bytes in model file",
        " (header says ", length, " payload bytes, file has ", available, ")"));
  }
  const absl::string_view payload = bytes.substr(kModelFileHeaderBytes);
  const uint32_t expected_crc = static_cast<uint32_t>(ReadLittleEndian(bytes, 20, 4));
  const uint32_t actual_crc = Crc32(payload);
  if (expected_crc != actual_crc) {
    return absl::DataLossError(absl::StrCat(source, ": corrupt model file (CRC-32 ", actual_crc,
                                            " does not match the recorded ", expected_crc,
                                            ")"));
  }
  CompressedModel model;
  if (!model.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::DataLossError(absl::StrCat(source, ": corrupt model file (payload does not parse)"));
  }
  if (model.format_version() != version) {
    return absl::DataLossError(absl::StrCat(source, ": payload version ", model.format_version(),
                                            " disagrees with container version ", version));
  }
  return model;
}

absl::Status WriteModelFile(const std::string& path, const CompressedModel& model) {
  return WriteFileAtomically(path, EncodeModelFile(model));
}

absl::StatusOr<CompressedModel> ReadModelFile(const std::string& path) {
  MC_ASSIGN_OR_RETURN(const std::string bytes, ReadFileToString(path));
  return DecodeModelFile(bytes, path);
}

}  // namespace mc::serialization
