#include "serialization/json.h"

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "serialization/atomic_file.h"

namespace mc::serialization {
namespace {

std::string ToJson(const google::protobuf::Message& message, bool indent) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = indent;
  std::string json;
  // Printing a well-formed message cannot fail.
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

}  // namespace

std::string ToJsonLine(const google::protobuf::Message& message) { return ToJson(message, false); }

absl::Status WriteJsonFile(const std::string& path, const google::protobuf::Message& message) {
  return WriteFileAtomically(path, ToJson(message, true));
}

absl::Status ParseJson(absl::string_view json, absl::string_view source,
                       google::protobuf::Message& message) {
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &message);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": invalid JSON: ", status.message().as_string()));
  }
  return absl::OkStatus();
}

}  // namespace mc::serialization
