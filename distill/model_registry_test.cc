#include "distill/model_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_matchers.h"
#include "serialization/atomic_file.h"

namespace mc::distill {
namespace {

using ::mc::serialization::RegistryEntry;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A registry path in a fresh directory named after the running test.
std::string RegistryPath() {
  const std::string dir =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  EXPECT_THAT(serialization::CreateDirectories(dir), IsOk());
  return dir + "/models.registry";
}

RegistryEntry Entry(const std::string& name, RegistryEntry::Status status) {
  RegistryEntry entry;
  entry.set_name(name);
  entry.set_method("quantized_distillation");
  entry.set_status(status);
  entry.mutable_config()->set_experiment("cifar_distill");
  entry.mutable_config()->mutable_model()->set_name("resnet20");
  return entry;
}

std::vector<int32_t> RunIndices(const std::vector<RegistryEntry>& entries) {
  std::vector<int32_t> runs;
  for (const RegistryEntry& entry : entries) runs.push_back(entry.run());
  return runs;
}

std::string ReadBytes(const std::string& path) {
  absl::StatusOr<std::string> bytes = serialization::ReadFileToString(path);
  EXPECT_THAT(bytes, IsOk());
  return bytes.value_or("");
}

// Tests that an added run is stored with its index and times, that an update replaces it
// while keeping its created time, and that every query returns what was stored.
TEST(ModelRegistryTest, AddUpdateQueryRoundTrip) {
  ModelRegistry registry(RegistryPath());
  absl::StatusOr<RegistryEntry> added =
      registry.Add(Entry("student", RegistryEntry::STATUS_UNSPECIFIED));
  ASSERT_THAT(added, IsOk());
  EXPECT_EQ(added->run(), 1);
  EXPECT_EQ(added->status(), RegistryEntry::RUNNING);
  EXPECT_GT(added->created_unix_seconds(), 1600000000);
  EXPECT_EQ(added->updated_unix_seconds(), added->created_unix_seconds());
  EXPECT_EQ(added->config().model().name(), "resnet20");

  RegistryEntry completed = *added;
  completed.set_status(RegistryEntry::COMPLETED);
  completed.set_model_file("/runs/student/model.mcm");
  (*completed.mutable_metrics())["test_accuracy"] = 0.9125;
  completed.set_created_unix_seconds(0);
  ASSERT_THAT(registry.Update(completed), IsOk());

  absl::StatusOr<std::vector<RegistryEntry>> runs = registry.Runs("student");
  ASSERT_THAT(runs, IsOk());
  ASSERT_EQ(runs->size(), 1u);
  const RegistryEntry& stored = runs->front();
  EXPECT_EQ(stored.status(), RegistryEntry::COMPLETED);
  EXPECT_EQ(stored.model_file(), "/runs/student/model.mcm");
  EXPECT_EQ(stored.metrics().at("test_accuracy"), 0.9125);
  EXPECT_EQ(stored.created_unix_seconds(), added->created_unix_seconds());
  EXPECT_GE(stored.updated_unix_seconds(), added->created_unix_seconds());
  EXPECT_EQ(stored.config().SerializeAsString(), added->config().SerializeAsString());
  EXPECT_EQ(registry.LatestCompleted("student")->SerializeAsString(), stored.SerializeAsString());
  EXPECT_EQ(registry.List()->front().SerializeAsString(), stored.SerializeAsString());
}

// Tests that run indices count up separately for each name and List keeps insertion order.
TEST(ModelRegistryTest, RunIndicesIncreasePerName) {
  ModelRegistry registry(RegistryPath());
  std::vector<int32_t> added;
  for (const char* name : {"teacher", "teacher", "student", "teacher", "student"}) {
    added.push_back(registry.Add(Entry(name, RegistryEntry::RUNNING))->run());
  }
  EXPECT_THAT(added, ElementsAre(1, 2, 1, 3, 2));
  EXPECT_THAT(RunIndices(registry.Runs("teacher").value()), ElementsAre(1, 2, 3));
  EXPECT_THAT(RunIndices(registry.Runs("student").value()), ElementsAre(1, 2));
  EXPECT_THAT(RunIndices(registry.List().value()), ElementsAre(1, 2, 1, 3, 2));
}

// Tests that LatestCompleted skips running and failed runs and follows updates.
TEST(ModelRegistryTest, LatestCompletedSkipsUnfinishedRuns) {
  ModelRegistry registry(RegistryPath());
  ASSERT_THAT(registry.Add(Entry("teacher", RegistryEntry::COMPLETED)), IsOk());
  ASSERT_THAT(registry.Add(Entry("teacher", RegistryEntry::FAILED)), IsOk());
  RegistryEntry third = registry.Add(Entry("teacher", RegistryEntry::RUNNING)).value();
  EXPECT_EQ(registry.LatestCompleted("teacher")->run(), 1);
  third.set_status(RegistryEntry::COMPLETED);
  ASSERT_THAT(registry.Update(third), IsOk());
  EXPECT_EQ(registry.LatestCompleted("teacher")->run(), 3);

  ASSERT_THAT(registry.Add(Entry("student", RegistryEntry::FAILED)), IsOk());
  EXPECT_THAT(registry.LatestCompleted("student"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("none of the 1 runs of model \"student\" has completed")));
}

// Tests that an unknown name is reported with the known names, and a missing file as empty.
TEST(ModelRegistryTest, UnknownNameListsKnownNames) {
  ModelRegistry registry(RegistryPath());
  EXPECT_THAT(registry.List(), IsOk());
  EXPECT_TRUE(registry.List()->empty());
  EXPECT_THAT(registry.Runs("teacher"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("(known models: none)")));
  ASSERT_THAT(registry.Add(Entry("teacher", RegistryEntry::RUNNING)), IsOk());
  ASSERT_THAT(registry.Add(Entry("student", RegistryEntry::RUNNING)), IsOk());
  EXPECT_THAT(registry.Runs("studnet"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("no model named \"studnet\" (known models: student, teacher)")));
  EXPECT_THAT(registry.LatestCompleted("studnet"), StatusIs(absl::StatusCode::kNotFound));
}

// Tests that updating a run that does not exist fails, lists the runs and writes nothing.
TEST(ModelRegistryTest, UpdateOfMissingRunIsNotFound) {
  ModelRegistry registry(RegistryPath());
  ASSERT_THAT(registry.Add(Entry("teacher", RegistryEntry::RUNNING)), IsOk());
  ASSERT_THAT(registry.Add(Entry("teacher", RegistryEntry::RUNNING)), IsOk());
  const std::string before = ReadBytes(registry.path());
  RegistryEntry missing = Entry("teacher", RegistryEntry::COMPLETED);
  missing.set_run(5);
  EXPECT_THAT(registry.Update(missing),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("cannot update run 5 of model \"teacher\": its runs are 1, 2")));
  missing.set_name("student");
  EXPECT_THAT(registry.Update(missing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("the model has no runs")));
  EXPECT_EQ(ReadBytes(registry.path()), before);
}

// Tests that a nameless entry and a registry in a missing directory are refused.
TEST(ModelRegistryTest, RejectsNamelessEntryAndMissingDirectory) {
  ModelRegistry registry(RegistryPath());
  EXPECT_THAT(registry.Add(RegistryEntry()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("without a name")));
  ModelRegistry nowhere(RegistryPath() + ".missing/models.registry");
  EXPECT_THAT(nowhere.Add(Entry("teacher", RegistryEntry::RUNNING)),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("directory does not exist")));
}

// Tests that a corrupt, truncated or foreign file is reported as data loss naming the file,
// and that writes then fail and leave the file exactly as it was.
TEST(ModelRegistryTest, CorruptFileIsReportedAndNeverOverwritten) {
  ModelRegistry registry(RegistryPath());
  ASSERT_THAT(registry.Add(Entry("teacher", RegistryEntry::COMPLETED)), IsOk());
  ASSERT_THAT(registry.Add(Entry("student", RegistryEntry::RUNNING)), IsOk());
  const std::string valid = ReadBytes(registry.path());
  std::string flipped = valid;
  flipped[valid.size() / 2 + 8] ^= 0x10;
  const std::vector<std::pair<std::string, std::string>> damaged = {
      {flipped, "CRC-32"},
      {valid.substr(0, valid.size() - 3), "truncated"},
      {valid.substr(0, 10), "truncated"},
      {"not a registry at all, only text longer than a header", "bad magic number"},
  };
  for (const auto& [bytes, problem] : damaged) {
    ASSERT_THAT(serialization::WriteFileAtomically(registry.path(), bytes), IsOk());
    const auto is_data_loss =
        StatusIs(absl::StatusCode::kDataLoss,
                 ::testing::AllOf(HasSubstr(registry.path()), HasSubstr(problem)));
    EXPECT_THAT(registry.List(), is_data_loss);
    EXPECT_THAT(registry.Runs("teacher"), is_data_loss);
    EXPECT_THAT(registry.Add(Entry("teacher", RegistryEntry::RUNNING)), is_data_loss);
    RegistryEntry update = Entry("student", RegistryEntry::COMPLETED);
    update.set_run(1);
    EXPECT_THAT(registry.Update(update), is_data_loss);
    EXPECT_EQ(ReadBytes(registry.path()), bytes) << problem;
  }
}

// Tests that a file from a newer format version is refused and not overwritten.
TEST(ModelRegistryTest, RefusesNewerFormatVersion) {
  ModelRegistry registry(RegistryPath());
  ASSERT_THAT(registry.Add(Entry("teacher", RegistryEntry::RUNNING)), IsOk());
  std::string newer = ReadBytes(registry.path());
  newer[8] = static_cast<char>(kModelRegistryVersion + 1);
  ASSERT_THAT(serialization::WriteFileAtomically(registry.path(), newer), IsOk());
  EXPECT_THAT(registry.List(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("format version 3")));
  EXPECT_THAT(registry.Add(Entry("teacher", RegistryEntry::RUNNING)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ReadBytes(registry.path()), newer);
}

// Tests that processes adding runs of one name at the same time lose no entry and get
// distinct run indices, while a reader in the parent always sees a whole registry.
TEST(ModelRegistryTest, ConcurrentProcessesLoseNoEntry) {
  constexpr int kWriters = 3;
  constexpr int kRunsPerWriter = 50;
  ModelRegistry registry(RegistryPath());
  std::vector<pid_t> writers;
  for (int writer = 0; writer < kWriters; ++writer) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ModelRegistry child_registry(registry.path());
      for (int i = 0; i < kRunsPerWriter; ++i) {
        RegistryEntry entry = Entry("shared", RegistryEntry::RUNNING);
        (*entry.mutable_metrics())["writer"] = writer;
        (*entry.mutable_metrics())["index"] = i;
        if (!child_registry.Add(entry).ok()) ::_exit(1);
      }
      ::_exit(0);
    }
    writers.push_back(pid);
  }
  // Read while the writers run: every read must see a whole file.
  size_t reads = 0;
  size_t seen = 0;
  while (!writers.empty()) {
    absl::StatusOr<std::vector<RegistryEntry>> entries = registry.List();
    ASSERT_THAT(entries, IsOk());
    EXPECT_GE(entries->size(), seen);
    seen = entries->size();
    ++reads;
    for (auto writer = writers.begin(); writer != writers.end();) {
      int status = 0;
      if (::waitpid(*writer, &status, WNOHANG) == *writer) {
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a writer failed";
        writer = writers.erase(writer);
      } else {
        ++writer;
      }
    }
  }
  absl::StatusOr<std::vector<RegistryEntry>> runs = registry.Runs("shared");
  ASSERT_THAT(runs, IsOk());
  ASSERT_EQ(runs->size(), static_cast<size_t>(kWriters * kRunsPerWriter)) << reads << " reads";
  std::set<std::pair<int, int>> written;
  for (size_t i = 0; i < runs->size(); ++i) {
    EXPECT_EQ((*runs)[i].run(), static_cast<int32_t>(i + 1));
    written.emplace((*runs)[i].metrics().at("writer"), (*runs)[i].metrics().at("index"));
  }
  EXPECT_EQ(written.size(), static_cast<size_t>(kWriters * kRunsPerWriter));
}

}  // namespace
}  // namespace mc::distill
