// File: event_writer.h
// TensorBoard event files (`tensorboard --logdir DIR` reads every file named
// events.out.tfevents.* under DIR): a writer that appends scalars and histograms, each event
// flushed to disk as it is written, and a reader that checks every record.
//
// Layout: a sequence of TFRecords, each
//   uint64  length of the data, little-endian
//   uint32  MaskCrc32c(Crc32c(those 8 length bytes)), little-endian (crc32c.h)
//   bytes   data: a serialized tensorboard::Event (tensorboard_event.proto)
//   uint32  MaskCrc32c(Crc32c(data)), little-endian
// The first event of a file holds file_version "brain.Event:2"; every other one a Summary of
// scalars (stored as float32) or histograms at a step.
//
// Example:
//   MC_ASSIGN_OR_RETURN(EventWriter writer, EventWriter::Create(output_dir));
//   MC_RETURN_IF_ERROR(writer.WriteScalars(step, {{"train/loss", loss}, {"lr", lr}}));
//   MC_RETURN_IF_ERROR(writer.WriteHistograms(step, {{"bits_per_layer", bits}}));
//   MC_ASSIGN_OR_RETURN(std::vector<tensorboard::Event> events, ReadEventFile(writer.path()));
#ifndef MC_SERIALIZATION_EVENT_WRITER_H_
#define MC_SERIALIZATION_EVENT_WRITER_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "serialization/tensorboard_event.pb.h"

namespace mc::serialization {

/// Equal-width buckets of a histogram from its smallest to its largest value (TensorBoard's
/// own default count).
inline constexpr int kHistogramBuckets = 30;

class EventWriter {
 public:
  /// Creates DIR/events.out.tfevents.<Unix seconds, 10 digits>.<hostname> and writes the
  /// file_version event. When that name is taken (another writer within the same second),
  /// ".1", ".2", ... is appended: every writer has a file of its own.
  /// \error kNotFound if `dir` does not exist; kInternal naming the file on I/O errors.
  static absl::StatusOr<EventWriter> Create(const std::string& dir);

  /// Appends one event at `step` holding one scalar per entry (tag -> value), then flushes
  /// it to disk (fsync): a crash loses at most the record being written.
  /// \error kInternal naming the file if the write fails.
  absl::Status WriteScalars(int64_t step, const std::map<std::string, double>& scalars);

  /// Appends one event at `step` holding a histogram of each entry's values (tag -> values):
  /// kHistogramBuckets equal-width buckets from the smallest value to the largest, or one
  /// bucket when all values are equal; flushed like WriteScalars.
  /// \error kInvalidArgument naming the tag of an empty or non-finite series (nothing is
  /// written then); kInternal naming the file if the write fails.
  absl::Status WriteHistograms(int64_t step,
                               const std::map<std::string, std::vector<double>>& histograms);

  const std::string& path() const { return path_; }

 private:
  explicit EventWriter(std::string path) : path_(std::move(path)) {}

  // Stamps the wall time, frames the event as a TFRecord and appends it (AppendToFile).
  absl::Status Write(tensorboard::Event& event);

  std::string path_;
};

/// Reads every event of an events file, checking the framing and both CRCs of every record.
/// \error kNotFound if the file does not exist; kDataLoss naming the file and the byte offset
/// of the first bad record: truncated, either CRC not matching, or data that is not an Event.
absl::StatusOr<std::vector<tensorboard::Event>> ReadEventFile(const std::string& path);

/// Paths of the events files (events.out.tfevents.*) in `dir`, sorted by name, as TensorBoard
/// reads them: for EventWriter's files, by creation time.
/// \error kNotFound if `dir` does not exist.
absl::StatusOr<std::vector<std::string>> ListEventFiles(const std::string& dir);

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_EVENT_WRITER_H_
