#include "data/cifar_reader.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "data/file_contents.h"

namespace mc::data {
namespace {

constexpr int64_t kCifarSide = 32;
constexpr int64_t kCifarChannels = 3;
constexpr char kCifarUrl[] = "https://www.cs.toronto.edu/~kriz/cifar.html";

struct LabelByte {
  const char* name;
  int64_t num_classes;
};

// The label bytes at the start of each record; the last one is the class label.
std::vector<LabelByte> LabelBytes(CifarVariant variant) {
  if (variant == CifarVariant::kCifar10) return {{"label", 10}};
  return {{"coarse label", 20}, {"fine label", 100}};
}

const char* DisplayName(CifarVariant variant) {
  return variant == CifarVariant::kCifar10 ? "CIFAR-10" : "CIFAR-100";
}

const char* ArchiveName(CifarVariant variant) {
  return variant == CifarVariant::kCifar10 ? "cifar-10-binary.tar.gz" : "cifar-100-binary.tar.gz";
}

absl::Status AppendRecords(const std::string& path, CifarVariant variant, LabeledImages& set) {
  MC_ASSIGN_OR_RETURN(const std::vector<uint8_t> bytes, ReadFileContents(path));
  const int64_t record_bytes = CifarRecordBytes(variant);
  const int64_t size = static_cast<int64_t>(bytes.size());
  if (size == 0) return absl::DataLossError(absl::StrCat(path, ": empty file"));
  if (size % record_bytes != 0) {
    return absl::DataLossError(absl::StrCat(path, ": truncated ", DisplayName(variant),
                                            " file: ", size, " bytes hold ", size / record_bytes,
                                            " whole records of ", record_bytes, " bytes and ",
                                            size % record_bytes, " bytes of a partial one"));
  }
  const std::vector<LabelByte> label_bytes = LabelBytes(variant);
  const int64_t num_records = size / record_bytes;
  set.pixels.reserve(set.pixels.size() + num_records * kCifarImageBytes);
  set.labels.reserve(set.labels.size() + num_records);
  for (int64_t record = 0; record < num_records; ++record) {
    const uint8_t* start = bytes.data() + record * record_bytes;
    for (size_t b = 0; b < label_bytes.size(); ++b) {
      if (start[b] >= label_bytes[b].num_classes) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": record ", record, " has ", label_bytes[b].name, " ",
                         int{start[b]}, ", out of range [0, ", label_bytes[b].num_classes, ")"));
      }
    }
    set.labels.push_back(start[label_bytes.size() - 1]);
    set.pixels.insert(set.pixels.end(), start + label_bytes.size(), start + record_bytes);
  }
  return absl::OkStatus();
}

}  // namespace

int64_t CifarRecordBytes(CifarVariant variant) {
  return static_cast<int64_t>(LabelBytes(variant).size()) + kCifarImageBytes;
}

std::vector<std::string> CifarFileNames(CifarVariant variant, Split split) {
  if (variant == CifarVariant::kCifar100) {
    return {split == Split::kTrain ? "cifar-100-binary/train.bin" : "cifar-100-binary/test.bin"};
  }
  if (split == Split::kTest) return {"cifar-10-batches-bin/test_batch.bin"};
  std::vector<std::string> names;
  for (int batch = 1; batch <= 5; ++batch) {
    names.push_back(absl::StrCat("cifar-10-batches-bin/data_batch_", batch, ".bin"));
  }
  return names;
}

absl::StatusOr<LabeledImages> ReadCifarFiles(const std::vector<std::string>& paths,
                                             CifarVariant variant) {
  LabeledImages set;
  set.channels = kCifarChannels;
  set.height = kCifarSide;
  set.width = kCifarSide;
  for (const std::string& path : paths) MC_RETURN_IF_ERROR(AppendRecords(path, variant, set));
  return set;
}

absl::StatusOr<LabeledImages> ReadCifar(const std::string& data_dir, CifarVariant variant,
                                        Split split) {
  std::vector<std::string> paths;
  std::vector<std::string> missing;
  for (const std::string& name : CifarFileNames(variant, split)) {
    paths.push_back(absl::StrCat(data_dir, "/", name));
    std::error_code error;
    if (!std::filesystem::exists(paths.back(), error)) missing.push_back(paths.back());
  }
  if (!missing.empty()) {
    return absl::NotFoundError(absl::StrCat(
        DisplayName(variant), " ", SplitName(split), " files not found: ",
        absl::StrJoin(missing, ", "), ". Download the binary version (", ArchiveName(variant),
        ") from ", kCifarUrl, " and extract it in ", data_dir, ", or run tools/fetch_cifar.sh ",
        variant == CifarVariant::kCifar10 ? "cifar10 " : "cifar100 ", data_dir));
  }
  return ReadCifarFiles(paths, variant);
}

}  // namespace mc::data
