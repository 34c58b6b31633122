// inspect: prints what a compressed-model file holds, whatever method wrote it (per-tensor
// table, totals, compression ratio against float32, checksum status, method and options,
// architecture), and with --export_pytorch writes its decoded float weights for Python; a
// model written in Python comes back as TorchScript with --export_torchscript.
//
//   bazel run //model_io:inspect -- runs/cifar_diffq/<run>/model.mcm
//   bazel run //model_io:inspect -- model.mcm --export_pytorch=model.pt
//   bazel run //model_io:inspect -- model.mcm --export_torchscript=compressed.pt
//
// Errors (unknown flags, a missing or corrupt file, a bad value) end the program with one
// line and exit code 1.
#include <c10/util/Exception.h>

#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/user_path.h"
#include "model_io/inspection.h"

ABSL_FLAG(std::optional<std::string>, export_pytorch, std::nullopt,
          "Also write the decoded weights to this file as a state dict for Python's torch.load.");
ABSL_FLAG(std::optional<std::string>, export_torchscript, std::nullopt,
          "A model written in Python: also write its script with the decoded weights to this "
          "file, for Python's torch.jit.load.");

namespace {

constexpr char kUsage[] =
    "usage: inspect <model.mcm> [--export_pytorch=<file.pt>] [--export_torchscript=<file.pt>]";

// Whether flag `name` appears in argv (as -name or --name, with or without a value) before a
// "--" that ends the flags. absl reads an empty value of an optional flag as "not given".
bool FlagOnCommandLine(int argc, char** argv, absl::string_view name) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view argument = argv[i];
    if (argument == "--") break;
    if (!absl::ConsumePrefix(&argument, "-")) continue;
    absl::ConsumePrefix(&argument, "-");
    if (argument.substr(0, argument.find('=')) == name) return true;
  }
  return false;
}

absl::Status Run(int argc, char** argv, const std::vector<char*>& positional) {
  if (positional.size() < 2 || *positional[1] == '\0') {
    return absl::InvalidArgumentError(absl::StrCat("no model file given (", kUsage, ")"));
  }
  if (positional.size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", positional[2],
                                                   "\" (", kUsage, ")"));
  }
  mc::model_io::InspectionExports exports;
  for (const auto& [flag, name, target] :
       {std::tuple(&FLAGS_export_pytorch, "export_pytorch", &exports.pytorch),
        std::tuple(&FLAGS_export_torchscript, "export_torchscript", &exports.torchscript)}) {
    const std::optional<std::string> export_path = absl::GetFlag(*flag);
    if (!export_path && FlagOnCommandLine(argc, argv, name)) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a file name"));
    }
    *target = mc::UserPath(export_path.value_or(""));
  }
  try {
    return mc::model_io::InspectModelFile(mc::UserPath(positional[1]), exports, std::cout);
  } catch (const c10::Error& error) {
    return absl::InternalError(error.what_without_backtrace());
  } catch (const std::exception& error) {
    return absl::InternalError(error.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      absl::StrCat("Prints what a compressed-model file holds; --export_pytorch and "
                   "--export_torchscript also write it for Python.\n",
                   kUsage));
  const absl::Status status = Run(argc, argv, absl::ParseCommandLine(argc, argv));
  if (!status.ok()) {
    std::cerr << "inspect: " << status.message() << std::endl;
    return 1;
  }
  return 0;
}
