// Fuzzes experiment configs (serialization/experiment_config.h): textproto parsing, then
// validation. Any text must be parsed or refused with an error, and a parsed config must
// print as textproto that parses back to the same config.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "serialization/experiment_config.h"
#include "tests/fuzz/fuzz_support.h"

using mc::fuzz::Require;
using mc::serialization::ExperimentConfig;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  ExperimentConfig config;
  if (!mc::serialization::MergeExperimentConfigText(text, "input", config).ok()) return 0;
  const absl::Status valid = mc::serialization::ValidateExperimentConfig(config);
  Require(valid.ok() || !valid.message().empty(), "a refused config is told why");

  const std::string printed = mc::serialization::ExperimentConfigToText(config);
  ExperimentConfig reparsed;
  Require(mc::serialization::MergeExperimentConfigText(printed, "printed", reparsed).ok(),
          "a printed config parses");
  // Compared as text: NaN fields print alike but never compare equal.
  Require(mc::serialization::ExperimentConfigToText(reparsed) == printed,
          "a printed config parses back to the same config");
  Require(mc::serialization::ValidateExperimentConfig(reparsed).code() == valid.code(),
          "a printed config validates as the original");
  return 0;
}
