#include "serialization/event_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "serialization/atomic_file.h"
#include "serialization/crc32c.h"
#include "serialization/little_endian.h"

namespace mc::serialization {
namespace {

using tensorboard::Event;
using tensorboard::HistogramProto;

constexpr char kFilePrefix[] = "events.out.tfevents.";
constexpr char kFileVersion[] = "brain.Event:2";
// uint64 length and uint32 masked CRC before the data; uint32 masked CRC after it.
constexpr size_t kHeaderBytes = 12;
constexpr size_t kFooterBytes = 4;

// Seconds since the Unix epoch.
double WallTime() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

std::string Record(absl::string_view data) {
  std::string record;
  record.reserve(kHeaderBytes + data.size() + kFooterBytes);
  AppendLittleEndian(record, data.size(), 8);
  AppendLittleEndian(record, MaskCrc32c(Crc32c(record)), 4);
  record.append(data.data(), data.size());
  AppendLittleEndian(record, MaskCrc32c(Crc32c(data)), 4);
  return record;
}

// Equal-width buckets from the smallest to the largest value (see WriteHistograms); the values
// are finite and not empty.
HistogramProto Histogram(const std::vector<double>& values) {
  HistogramProto histogram;
  const auto [min, max] = std::minmax_element(values.begin(), values.end());
  histogram.set_min(*min);
  histogram.set_max(*max);
  histogram.set_num(static_cast<double>(values.size()));
  double sum = 0;
  double sum_squares = 0;
  for (const double value : values) {
    sum += value;
    sum_squares += value * value;
  }
  histogram.set_sum(sum);
  histogram.set_sum_squares(sum_squares);
  const double width = (*max - *min) / kHistogramBuckets;
  // All values equal (or a range too small or too large to split): one bucket.
  if (!(width > 0 && std::isfinite(width))) {
    histogram.add_bucket_limit(*max);
    histogram.add_bucket(static_cast<double>(values.size()));
    return histogram;
  }
  std::vector<double> counts(kHistogramBuckets, 0);
  for (const double value : values) {
    const int bucket = static_cast<int>((value - *min) / width);
    counts[std::min(bucket, kHistogramBuckets - 1)] += 1;
  }
  for (int i = 0; i < kHistogramBuckets; ++i) {
    histogram.add_bucket_limit(i + 1 == kHistogramBuckets ? *max : *min + (i + 1) * width);
    histogram.add_bucket(counts[i]);
  }
  return histogram;
}

}  // namespace

absl::StatusOr<EventWriter> EventWriter::Create(const std::string& dir) {
  const std::string base = absl::StrFormat("%s/%s%010d.%s", dir, kFilePrefix,
                                           static_cast<int64_t>(WallTime()), Hostname());
  for (int suffix = 0;; ++suffix) {
    std::string path = suffix == 0 ? base : absl::StrCat(base, ".", suffix);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0 && errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("cannot create an events file in ", dir, ": the directory does not exist"));
    }
    if (fd < 0) {
      return absl::InternalError(absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
    }
    ::close(fd);
    EventWriter writer(std::move(path));
    Event event;
    event.set_file_version(kFileVersion);
    MC_RETURN_IF_ERROR(writer.Write(event));
    return writer;
  }
}

absl::Status EventWriter::WriteScalars(int64_t step, const std::map<std::string, double>& scalars) {
  Event event;
  event.set_step(step);
  for (const auto& [tag, value] : scalars) {
    tensorboard::Summary::Value* entry = event.mutable_summary()->add_value();
    entry->set_tag(tag);
    entry->set_simple_value(static_cast<float>(value));
  }
  return Write(event);
}

absl::Status EventWriter::WriteHistograms(
    int64_t step, const std::map<std::string, std::vector<double>>& histograms) {
  Event event;
  event.set_step(step);
  for (const auto& [tag, values] : histograms) {
    if (values.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("histogram \"", tag, "\" has no values"));
    }
    if (!std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); })) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram \"", tag, "\" has a value that is not finite"));
    }
    tensorboard::Summary::Value* entry = event.mutable_summary()->add_value();
    entry->set_tag(tag);
    *entry->mutable_histo() = Histogram(values);
  }
  return Write(event);
}

absl::Status EventWriter::Write(Event& event) {
  event.set_wall_time(WallTime());
  return AppendToFile(path_, Record(event.SerializeAsString()));
}

absl::StatusOr<std::vector<Event>> ReadEventFile(const std::string& path) {
  MC_ASSIGN_OR_RETURN(const std::string bytes, ReadFileToString(path));
  std::vector<Event> events;
  for (size_t offset = 0; offset < bytes.size();) {
    const auto corrupt = [&](absl::string_view problem) {
      return absl::DataLossError(
          absl::StrCat(path, ": the record at byte offset ", offset, " ", problem));
    };
    const size_t left = bytes.size() - offset;
    if (left < kHeaderBytes) {
      return corrupt(absl::StrCat("is truncated: ", left, " bytes, the header alone is ",
                                  kHeaderBytes));
    }
    const absl::string_view length_bytes(bytes.data() + offset, 8);
    if (MaskCrc32c(Crc32c(length_bytes)) != ReadLittleEndian(bytes, offset + 8, 4)) {
      return corrupt("is corrupt: the CRC-32C of its length does not match");
    }
    const uint64_t length = ReadLittleEndian(bytes, offset, 8);
    if (length > left - kHeaderBytes || left - kHeaderBytes - length < kFooterBytes) {
      return corrupt(absl::StrCat("is truncated: its header announces ", length,
                                  " data bytes and a 4-byte CRC, ", left - kHeaderBytes,
                                  " bytes follow"));
    }
    const absl::string_view data(bytes.data() + offset + kHeaderBytes, length);
    if (MaskCrc32c(Crc32c(data)) != ReadLittleEndian(bytes, offset + kHeaderBytes + length, 4)) {
      return corrupt("is corrupt: the CRC-32C of its data does not match");
    }
    Event event;
    if (!event.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
      return corrupt("does not hold an Event");
    }
    events.push_back(std::move(event));
    offset += kHeaderBytes + length + kFooterBytes;
  }
  return events;
}

absl::StatusOr<std::vector<std::string>> ListEventFiles(const std::string& dir) {
  DIR* directory = ::opendir(dir.c_str());
  if (directory == nullptr) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
    return absl::InternalError(absl::StrCat("cannot list ", dir, ": ", std::strerror(errno)));
  }
  std::vector<std::string> paths;
  while (const dirent* entry = ::readdir(directory)) {
    if (absl::StartsWith(entry->d_name, kFilePrefix)) {
      paths.push_back(absl::StrCat(dir, "/", entry->d_name));
    }
  }
  ::closedir(directory);
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace mc::serialization
