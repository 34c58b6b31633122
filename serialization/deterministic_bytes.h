// File: deterministic_bytes.h
// Protobuf's default serialization writes map entries in hash-table order, which changes
// from process to process; files this project writes (model files, registries) must not.
// These bytes put map entries in key order, so equal messages always give equal bytes.
#ifndef MC_SERIALIZATION_DETERMINISTIC_BYTES_H_
#define MC_SERIALIZATION_DETERMINISTIC_BYTES_H_

#include <string>

#include "google/protobuf/message_lite.h"

namespace mc::serialization {

/// `message` serialized with map entries in key order.
std::string DeterministicBytes(const google::protobuf::MessageLite& message);

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_DETERMINISTIC_BYTES_H_
