// File: json.h
// Protobuf messages as JSON with the field names of the .proto files (snake_case) and every
// field present, zeros included: the form of summary.json and of metrics.jsonl lines.
//
// Example:
//   MC_RETURN_IF_ERROR(WriteJsonFile(dir + "/summary.json", summary));
#ifndef MC_SERIALIZATION_JSON_H_
#define MC_SERIALIZATION_JSON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace google::protobuf {
class Message;
}

namespace mc::serialization {

/// The message as one line of JSON (no newline).
std::string ToJsonLine(const google::protobuf::Message& message);

/// Writes the message as indented JSON to `path`, atomically.
absl::Status WriteJsonFile(const std::string& path, const google::protobuf::Message& message);

/// Parses JSON into `message`. \error kInvalidArgument naming `source` and the problem.
absl::Status ParseJson(absl::string_view json, absl::string_view source,
                       google::protobuf::Message& message);

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_JSON_H_
