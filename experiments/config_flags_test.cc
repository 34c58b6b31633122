#include "experiments/config_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "common/status_matchers.h"
#include "serialization/atomic_file.h"

ABSL_FLAG(std::optional<int32_t>, test_bits, std::nullopt, "An int32 field.");
ABSL_FLAG(std::optional<double>, test_penalty, std::nullopt, "A double field.");
ABSL_FLAG(std::optional<bool>, test_float16, std::nullopt, "A bool field.");
ABSL_FLAG(std::optional<std::string>, test_noise, std::nullopt, "A string field.");
ABSL_FLAG(std::optional<std::string>, test_exclude, std::nullopt, "A repeated string field.");
ABSL_FLAG(std::optional<std::string>, test_start_from, std::nullopt, "A path.");

namespace mc::experiments {
namespace {

using ::testing::HasSubstr;
using serialization::ExperimentConfig;

ExperimentConfig Defaults(absl::string_view dataset) {
  ExperimentConfig config;
  config.mutable_data()->set_augment(dataset == "cifar10");
  config.mutable_model()->set_name("resnet20");
  auto* training = config.mutable_training();
  training->set_epochs(dataset == "cifar10" ? 200 : 3);
  training->set_batch_size(128);
  training->set_eval_batch_size(500);
  training->set_optimizer(serialization::TrainingConfig::SGD);
  training->set_lr(0.1);
  training->set_momentum(0.9);
  training->set_lr_schedule(serialization::TrainingConfig::COSINE);
  return config;
}

// The test's temporary directory, made the directory the user runs the binary from.
std::string UserDirectory() {
  const std::string dir = std::getenv("TEST_TMPDIR");
  setenv("BUILD_WORKING_DIRECTORY", dir.c_str(), 1);
  return dir;
}

void WriteFile(const std::string& path, const std::string& text) {
  ASSERT_TRUE(serialization::WriteFileAtomically(path, text).ok()) << path;
}

void Parse(std::vector<std::string> arguments) {
  arguments.insert(arguments.begin(), "config_flags_test");
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  absl::ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

// Tests the precedence defaults < --config file < flags given on the command line, that
// the data set named by the file selects the defaults, and that relative paths are made
// absolute against the directory the user ran from.
TEST(ConfigFlagsTest, FileOverridesDefaultsAndFlagsOverrideFile) {
  const std::string dir = UserDirectory();
  WriteFile(dir + "/run.textproto",
            "data { dataset: \"fashion_mnist\" augment: true }\n"
            "training { lr: 0.05 momentum: 0 epochs: 7 }\n");
  Parse({"--config=run.textproto", "--epochs=2", "--output_dir=out", "--seed=9"});
  absl::StatusOr<ExperimentConfig> config =
      ResolveExperimentConfig("cifar_baseline", "cifar10", &Defaults);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->experiment(), "cifar_baseline");
  EXPECT_EQ(config->data().dataset(), "fashion_mnist");
  EXPECT_TRUE(config->data().augment());           // file over the fashion_mnist default
  EXPECT_EQ(config->training().lr(), 0.05);          // file over default
  EXPECT_EQ(config->training().momentum(), 0.0);     // an explicit zero in the file counts
  EXPECT_EQ(config->training().epochs(), 2);         // flag over file
  EXPECT_EQ(config->training().seed(), 9u);
  EXPECT_EQ(config->training().batch_size(), 128);   // default kept
  EXPECT_EQ(config->output().dir(), dir + "/out");
  EXPECT_FALSE(config->has_distributed());           // a single process unless asked

  // A flag that makes the configuration invalid is reported by field name.
  Parse({"--lr=-1"});
  absl::StatusOr<ExperimentConfig> invalid =
      ResolveExperimentConfig("cifar_baseline", "cifar10", &Defaults);
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(invalid.status().message()), HasSubstr("training.lr = -1"));

  // A configuration written for another experiment is refused.
  WriteFile(dir + "/other.textproto", "experiment: \"cifar_vq\"\n");
  Parse({"--config=other.textproto", "--lr=0.1"});
  EXPECT_THAT(std::string(ResolveExperimentConfig("cifar_baseline", "cifar10", &Defaults)
                              .status()
                              .message()),
              HasSubstr("cifar_vq"));
}

// Tests that the files a --config file names are taken from the user's directory, as the
// same paths given as flags are; a registry name given as the teacher is left as it is.
TEST(ConfigFlagsTest, RelativePathsOfTheConfigFileAreTheUsers) {
  const std::string dir = UserDirectory();
  WriteFile(dir + "/paths.textproto",
            "quantization { start_from: \"float/model.mcm\" }\n"
            "vq { teacher: \"teacher.mcm\" }\n"
            "metaquant { start_from: \"/abs/model.mcm\" }\n"
            "distillation { teacher: \"resnet56_run\" init_from: \"init.mcm\" }\n");
  Parse({"--config=paths.textproto", "--output_dir=out"});
  absl::StatusOr<ExperimentConfig> config =
      ResolveExperimentConfig("cifar_baseline", "cifar10", &Defaults);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->quantization().start_from(), dir + "/float/model.mcm");
  EXPECT_EQ(config->vq().teacher(), dir + "/teacher.mcm");
  EXPECT_EQ(config->metaquant().start_from(), "/abs/model.mcm");
  EXPECT_EQ(config->distillation().init_from(), dir + "/init.mcm");
  EXPECT_EQ(config->distillation().teacher(), "resnet56_run");
  // Fields nobody set stay unset: the recorded config, which resuming compares, is unchanged.
  EXPECT_FALSE(config->distillation().has_registry());
  EXPECT_FALSE(config->data().has_data_dir());
  EXPECT_FALSE(config->model().has_torchscript_file());
}

// Tests that the data-parallel flags fill the distributed section with defaults for the
// others, and that a rank outside the world or an uneven split of the batch is refused.
TEST(ConfigFlagsTest, DistributedFlagsFillTheSection) {
  const std::string dir = UserDirectory();
  WriteFile(dir + "/dist.textproto", "");
  Parse({"--config=" + dir + "/dist.textproto", "--lr=0.1", "--batch_size=128", "--world_size=2",
         "--rank=1", "--master_port=29555"});
  absl::StatusOr<ExperimentConfig> config =
      ResolveExperimentConfig("cifar_baseline", "cifar10", &Defaults);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->distributed().world_size(), 2);
  EXPECT_EQ(config->distributed().rank(), 1);
  EXPECT_EQ(config->distributed().master_addr(), "127.0.0.1");
  EXPECT_EQ(config->distributed().master_port(), 29555);
  EXPECT_EQ(config->distributed().timeout_seconds(), 1800);

  Parse({"--batch_size=127"});
  EXPECT_THAT(std::string(ResolveExperimentConfig("cifar_baseline", "cifar10", &Defaults)
                              .status()
                              .message()),
              HasSubstr("training.batch_size = 127 is not a multiple of distributed.world_size = 2"));
  Parse({"--batch_size=128", "--rank=2"});
  EXPECT_THAT(std::string(ResolveExperimentConfig("cifar_baseline", "cifar10", &Defaults)
                              .status()
                              .message()),
              HasSubstr("distributed.rank = 2 is out of range: allowed [0, 1]"));
}

// Tests that the data set is one of data/dataset_info.h's, named in the error otherwise.
TEST(ConfigFlagsTest, RefusesAnUnknownDataSet) {
  absl::FlagSaver restore_flags_after_test;
  Parse({"--dataset=imagenet"});
  EXPECT_THAT(ResolveExperimentConfig("cifar_baseline", "cifar10", &Defaults),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("data.dataset = \"imagenet\" is not one of cifar10, cifar100, "
                                 "fashion_mnist, kjv, mnist, ptb, synthetic, wikitext103, "
                                 "wikitext2")));
}

// Tests that the flags of a table given on the command line set their fields, converted to
// the fields' types, and that the others leave theirs as they were.
TEST(ApplyFlagsTest, SetsTheFieldsOfTheFlagsGiven) {
  Parse({"--test_bits=3", "--test_penalty=0.1", "--test_float16=true", "--test_noise=uniform",
         "--test_exclude=bias,*.bn*"});
  ExperimentConfig config;
  config.mutable_quantization()->set_group_size(8);
  config.mutable_quantization()->add_exclude("fc.weight");
  ASSERT_THAT(ApplyFlags({{"test_bits", "quantization.bits"},
                          {"test_penalty", "quantization.penalty"},
                          {"test_float16", "quantization.float16"},
                          {"test_noise", "quantization.noise"},
                          {"test_exclude", "quantization.exclude"},
                          {"test_start_from", "metaquant.start_from", /*path=*/true}},
                         config),
              IsOk());
  const serialization::QuantizationConfig& q = config.quantization();
  EXPECT_EQ(q.bits(), 3);
  EXPECT_EQ(q.penalty(), 0.1);
  EXPECT_TRUE(q.float16());
  EXPECT_EQ(q.noise(), "uniform");
  EXPECT_THAT(q.exclude(), ::testing::ElementsAre("bias", "*.bn*"));
  EXPECT_EQ(q.group_size(), 8);
  EXPECT_FALSE(config.has_metaquant());
}

TEST(ApplyFlagsTest, NamesTheFlagWhoseValueDoesNotFit) {
  Parse({"--test_noise=3.5"});
  ExperimentConfig config;
  EXPECT_THAT(ApplyFlags({{"test_noise", "quantization.bits"}}, config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--test_noise: \"3.5\" does not fit mc.serialization.QuantizationConfig.bits")));
  EXPECT_THAT(ApplyFlags({{"test_noise", "quantization.no_such_field"}}, config),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("no field quantization.no_such_field")));
}

}  // namespace
}  // namespace mc::experiments
