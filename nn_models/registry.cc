#include "nn_models/registry.h"

#include <c10/util/Exception.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "nn_models/cifar_resnet.h"
#include "nn_models/classifier.h"
#include "nn_models/conv_forward_net.h"
#include "nn_models/lenet.h"
#include "nn_models/lstm_lm.h"
#include "nn_models/mobilenet_v2.h"
#include "nn_models/resnet.h"
#include "nn_models/transformer_lm.h"
#include "nn_models/wide_resnet.h"

namespace mc::nn_models {
namespace {

using Factory = std::function<std::shared_ptr<Classifier>(const ModelOptions&)>;

struct ModelEntry {
  Factory create;
  bool has_dropout_option = false;  // whether ModelOptions.dropout applies
};

struct WideResNetShape {
  int64_t depth;
  int64_t widen_factor;
};

// The wide ResNets of Polino et al. 2018 (CIFAR-100 teacher and students), listed by name.
constexpr WideResNetShape kListedWideResNets[] = {
    {28, 10}, {16, 10}, {22, 8}, {16, 6}, {10, 4},
};

ModelEntry WideResNetEntry(WideResNetShape shape) {
  return {[shape](const ModelOptions& options) {
            return std::make_shared<WideResNetImpl>(shape.depth, shape.widen_factor, options);
          },
          /*has_dropout_option=*/true};
}

// A language model over options.num_classes() words; options.dropout() replaces the
// configuration's dropout when set.
template <typename Impl, typename Config>
ModelEntry LanguageModelEntry(Config (*configuration)(int64_t vocabulary_size)) {
  return {[configuration](const ModelOptions& options) {
            Config config = configuration(options.num_classes());
            if (options.dropout().has_value()) config.dropout = *options.dropout();
            return std::make_shared<Impl>(config);
          },
          /*has_dropout_option=*/true};
}

ModelEntry ConvForwardNetEntry(const ConvForwardNetSpec& spec) {
  return {[spec](const ModelOptions& options) {
    return std::make_shared<ConvForwardNetImpl>(spec, options);
  }};
}

std::map<std::string, ModelEntry> BuildRegistry() {
  std::map<std::string, ModelEntry> registry;
  registry["lenet"] = {
      [](const ModelOptions& options) { return std::make_shared<LeNetImpl>(options); }};
  for (int64_t depth : {20, 32, 44, 56, 110}) {
    registry[absl::StrCat("resnet", depth)] = {[depth](const ModelOptions& options) {
      return std::make_shared<CifarResNetImpl>(depth, options);
    }};
  }
  for (int64_t depth : {18, 34, 50, 101, 152}) {
    registry[absl::StrCat("resnet", depth)] = {[depth](const ModelOptions& options) {
      return std::make_shared<ResNetImpl>(depth, options);
    }};
  }
  for (const WideResNetShape& shape : kListedWideResNets) {
    registry[absl::StrCat("wrn", shape.depth, "_", shape.widen_factor)] = WideResNetEntry(shape);
  }
  registry["mobilenetv2"] = {
      [](const ModelOptions& options) { return std::make_shared<MobileNetV2Impl>(options); },
      /*has_dropout_option=*/true};
  registry["qd_teacher"] = ConvForwardNetEntry(QdTeacherSpec());
  for (int student = 1; student <= 3; ++student) {
    registry[absl::StrCat("qd_student", student)] =
        ConvForwardNetEntry(QdStudentSpec(student, /*with_dropout=*/false));
    registry[absl::StrCat("qd_student", student, "_dropout")] =
        ConvForwardNetEntry(QdStudentSpec(student, /*with_dropout=*/true));
  }
  registry["qd_deep_student"] = ConvForwardNetEntry(QdDeepStudentSpec());
  registry["lstm_lm_small"] = LanguageModelEntry<LstmLmImpl>(&LstmLmSmall);
  registry["lstm_lm_medium"] = LanguageModelEntry<LstmLmImpl>(&LstmLmMedium);
  registry["transformer_lm_small"] = LanguageModelEntry<TransformerLmImpl>(&TransformerLmSmall);
  registry["transformer_lm_16"] = LanguageModelEntry<TransformerLmImpl>(&TransformerLm16);
  return registry;
}

const std::map<std::string, ModelEntry>& Registry() {
  static const auto* const registry = new std::map<std::string, ModelEntry>(BuildRegistry());
  return *registry;
}

bool IsDecimal(absl::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Parses "wrn<depth>_<k>" with decimal depth and k; nullopt for any other name.
std::optional<WideResNetShape> ParseWideResNetName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "wrn")) return std::nullopt;
  const std::vector<absl::string_view> parts = absl::StrSplit(name, '_');
  WideResNetShape shape;
  if (parts.size() != 2 || !IsDecimal(parts[0]) || !IsDecimal(parts[1]) ||
      !absl::SimpleAtoi(parts[0], &shape.depth) ||
      !absl::SimpleAtoi(parts[1], &shape.widen_factor)) {
    return std::nullopt;
  }
  return shape;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Classifier>> CreateModel(absl::string_view name,
                                                        const ModelOptions& options) {
  MC_RETURN_IF_ERROR(Validate(options));
  ModelEntry entry;
  if (auto listed = Registry().find(std::string(name)); listed != Registry().end()) {
    entry = listed->second;
  } else if (std::optional<WideResNetShape> shape = ParseWideResNetName(name)) {
    entry = WideResNetEntry(*shape);
  } else {
    return absl::NotFoundError(
        absl::StrCat("unknown model \"", name,
                     "\"; registered models: ", absl::StrJoin(RegisteredModelNames(), ", "),
                     ", and wrn<depth>_<k> for any depth 6n + 4 and widen factor k"));
  }
  if (options.dropout().has_value() && !entry.has_dropout_option) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model \"", name, "\" has no dropout option; ModelOptions.dropout applies to wide ",
        "ResNets, mobilenetv2 and the language models"));
  }
  try {
    return entry.create(options);
  } catch (const c10::Error& error) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create model \"", name, "\": ", error.what_without_backtrace()));
  }
}

std::vector<std::string> RegisteredModelNames() {
  std::vector<std::string> names;
  for (const auto& [name, entry] : Registry()) names.push_back(name);
  return names;
}

}  // namespace mc::nn_models
