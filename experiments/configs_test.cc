// The configurations shipped under experiments/configs.
#include <dirent.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "serialization/experiment_config.h"

namespace mc::experiments {
namespace {

using serialization::ExperimentConfig;
using serialization::MergeExperimentConfigFile;
using serialization::ValidateExperimentConfig;

// Tests that every configuration shipped under experiments/configs parses and validates.
TEST(ShippedConfigsTest, EveryConfigParsesAndValidates) {
  const std::string dir = "experiments/configs";
  DIR* listing = opendir(dir.c_str());
  ASSERT_NE(listing, nullptr) << "cannot list " << dir;
  std::vector<std::string> files;
  while (dirent* entry = readdir(listing)) {
    const std::string name = entry->d_name;
    if (name.size() > 10 && name.substr(name.size() - 10) == ".textproto") files.push_back(name);
  }
  closedir(listing);
  ASSERT_FALSE(files.empty());
  for (const std::string& file : files) {
    ExperimentConfig config;
    const absl::Status parsed = MergeExperimentConfigFile(dir + "/" + file, config);
    ASSERT_TRUE(parsed.ok()) << parsed;
    config.mutable_output()->set_dir("/tmp/unused");
    EXPECT_TRUE(ValidateExperimentConfig(config).ok())
        << file << ": " << ValidateExperimentConfig(config);
  }
}

}  // namespace
}  // namespace mc::experiments
