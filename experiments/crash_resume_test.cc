// Kill-and-resume test of cifar_baseline (float training) and cifar_diffq (DiffQ): a short run on the synthetic data set is killed with
// SIGKILL and restarted with --resume until it completes, in rounds until enough kills. Half
// the kills come at a random moment (seeded) of an uninterrupted run's duration, in start-up
// or training steps mostly; the other half as a randomly chosen atomic write begins
// (checkpoint, model, summary), whose few milliseconds random moments rarely hit. After every
// kill, every output present must be valid; at the end of every round the model must be
// bit-identical to the uninterrupted run's, with the same test accuracy and per-epoch
// metrics. Progress within an epoch is lost by design (checkpoints are written per epoch).
// Prints where the kills landed, as the files left behind show.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <torch/serialize/input-archive.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "data/dataset_info.h"
#include "experiments/float_training.h"
#include "experiments/runner.h"
#include "model_io/model_loading.h"
#include "experiments/testutil.h"
#include "serialization/atomic_file.h"
#include "serialization/experiment_config.h"
#include "serialization/json.h"

namespace mc::experiments {
namespace {

using serialization::EpochMetrics;
using serialization::ExperimentConfig;
using serialization::ExperimentSummary;

// Many short epochs, so that the checkpoint writes are a good part of the run.
constexpr int kEpochs = 12;
constexpr int kStepsPerEpoch = 2;
constexpr int kMinKills = 40;
// Each round is one run killed until it completes; rounds go on until kMinKills kills.
constexpr int kMaxRounds = 100;
constexpr uint32_t kKillSeed = 20240611;

// An experiment binary under test.
struct Subject {
  std::string name;
  std::string binary;  // runfiles path
  std::vector<std::string> flags;  // beyond the run's shared ones
  // The files of a run in the order it writes them last: every epoch's checkpoint, then the
  // model, the summary and what else the binary writes.
  std::vector<std::string> final_writes;
};

const Subject kSubjects[] = {
    {"baseline", "experiments/cifar_baseline", {},
     {"checkpoint.pt", "model.mcm", "summary.json", "model.pt"}},
    {"diffq", "experiments/cifar_diffq", {"--method=diffq"},
     {"checkpoint.pt", "model.mcm", "summary.json"}},
};

void PrintTo(const Subject& subject, std::ostream* out) { *out << subject.name; }

// Atomic writes of an uninterrupted run: config, metrics, the checkpoints and the final
// writes after them.
int WritesPerRun(const Subject& subject) {
  return 2 + kEpochs + static_cast<int>(subject.final_writes.size()) - 1;
}

std::vector<std::string> Command(const Subject& subject, const std::string& dir) {
  std::vector<std::string> command = {RunfilesPath(subject.binary),
                                      "--dataset=synthetic",
                                      "--model=lenet",
                                      absl::StrCat("--epochs=", kEpochs),
                                      absl::StrCat("--max_train_batches=", kStepsPerEpoch),
                                      "--batch_size=32",
                                      "--threads=1",
                                      "--seed=5",
                                      "--output_dir=" + dir,
                                      "--resume"};
  command.insert(command.end(), subject.flags.begin(), subject.flags.end());
  return command;
}

std::string Read(const std::string& path) { return serialization::ReadFileToString(path).value_or(""); }

bool Exists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

// The output directory at one moment: which file is which (an atomic write replaces the
// inode) and the temporaries of writes in progress.
struct Snapshot {
  std::map<std::string, std::string> identity;  // file name -> inode and modification time
  std::set<std::string> temporaries;

  static Snapshot Of(const std::string& dir) {
    Snapshot snapshot;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string name = entry.path().filename();
      if (name.find(".tmp.") != std::string::npos) {
        snapshot.temporaries.insert(name);
        continue;
      }
      struct stat info;
      if (::stat(entry.path().c_str(), &info) != 0) continue;
      snapshot.identity[name] = absl::StrCat(info.st_ino, ":", info.st_mtim.tv_sec, ".", info.st_mtim.tv_nsec);
    }
    return snapshot;
  }
};

// Counts the atomic writes that begin in a directory: the creation of their temporaries.
class WriteWatcher {
 public:
  explicit WriteWatcher(const std::string& dir) : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    EXPECT_GE(fd_, 0);
    EXPECT_GE(::inotify_add_watch(fd_, dir.c_str(), IN_CREATE), 0) << dir;
  }
  ~WriteWatcher() { ::close(fd_); }

  /// Waits up to a millisecond for more writes to begin; returns how many began so far.
  int WaitAndCount() {
    pollfd ready = {fd_, POLLIN, 0};
    if (::poll(&ready, 1, 1) <= 0) return started_;
    alignas(inotify_event) char events[4096];
    const ssize_t size = ::read(fd_, events, sizeof(events));
    for (ssize_t offset = 0; offset < size;) {
      const auto* event = reinterpret_cast<const inotify_event*>(events + offset);
      if (event->len > 0 && std::string(event->name).find(".tmp.") != std::string::npos) ++started_;
      offset += sizeof(inotify_event) + event->len;
    }
    return started_;
  }

 private:
  int fd_;
  int started_ = 0;
};

// When an attempt is killed: after `delay`, or as its `at_write`-th atomic write begins.
struct KillPlan {
  std::chrono::duration<double> delay{0};
  int at_write = 0;  ///< 0: after the delay
};

// Starts an attempt in `dir` and kills it as planned, unless it ends first.
ExitStatus RunAttempt(const Subject& subject, const std::string& dir, const ChildOutput& output,
                      const KillPlan& plan) {
  WriteWatcher writes(dir);
  absl::StatusOr<ChildProcess> child = ChildProcess::Start(Command(subject, dir), output);
  EXPECT_TRUE(child.ok()) << child.status();
  if (!child.ok()) return ExitStatus();
  const auto deadline = std::chrono::steady_clock::now() + plan.delay;
  while (!child->Poll()) {
    const int started = writes.WaitAndCount();
    if (plan.at_write > 0 ? started >= plan.at_write : std::chrono::steady_clock::now() >= deadline) {
      break;
    }
  }
  return child->Kill();
}

// Where a kill landed, from what the killed attempt left: the temporary of an interrupted
// write, else the last of the final writes it completed, else what its log shows.
std::string WhereTheKillLanded(const std::vector<std::string>& final_writes, const Snapshot& before,
                               const Snapshot& after, int checkpoint_epochs, const std::string& log) {
  for (const std::string& temporary : after.temporaries) {
    if (before.temporaries.count(temporary) == 0) {
      return "writing " + temporary.substr(0, temporary.find(".tmp.")) + " (its temporary left)";
    }
  }
  const std::string after_last_checkpoint = "after the last checkpoint, before model.mcm";
  for (size_t i = final_writes.size(); i-- > 0;) {
    const auto now = after.identity.find(final_writes[i]);
    if (now == after.identity.end()) continue;
    const auto then = before.identity.find(final_writes[i]);
    if (then != before.identity.end() && then->second == now->second) continue;
    if (i + 1 == final_writes.size()) return "after " + final_writes[i] + ", the last write";
    if (i > 0) return "after " + final_writes[i] + ", before " + final_writes[i + 1];
    return checkpoint_epochs == kEpochs ? after_last_checkpoint
                                        : "training, after a checkpoint of the attempt";
  }
  if (log.find(absl::StrCat("after epoch ", kEpochs, "\n")) != std::string::npos) {
    return after_last_checkpoint;
  }
  if (log.find(absl::StrCat("/", kStepsPerEpoch, " loss")) != std::string::npos) {
    return "training, before a checkpoint of the attempt";
  }
  return "start-up, before the first step";
}

// Reads checkpoint.pt as a resumed run would (its configuration, the method's state) and
// returns its completed epochs; float training's state is also loaded into a LeNet.
int LoadCheckpoint(const std::string& dir) {
  ExperimentConfig config;
  const absl::Status parsed = serialization::MergeExperimentConfigFile(dir + "/config.textproto", config);
  EXPECT_TRUE(parsed.ok()) << parsed;
  if (!parsed.ok()) return -1;
  const absl::StatusOr<data::DatasetInfo> dataset = data::GetDatasetInfo("synthetic");
  absl::StatusOr<std::shared_ptr<nn_models::Classifier>> model = model_io::BuildModel(config.model(), *dataset);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return -1;
  FloatTraining float_method(*model, config.training());
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(dir + "/checkpoint.pt");
    c10::IValue value;
    archive.read("config", value);
    // The checkpoint records the run's configuration but for how it executes (runner.cc).
    ExperimentConfig what_runs = config;
    what_runs.mutable_training()->clear_threads();
    what_runs.mutable_data()->clear_workers();
    EXPECT_EQ(value.toStringRef(), serialization::ExperimentConfigToText(what_runs));
    torch::serialize::InputArchive method_archive;
    archive.read("method", method_archive);
    if (config.quantization().method() == "float") float_method.Load(method_archive);
    at::Tensor rng_state;
    archive.read("rng_state", rng_state);
    archive.read("completed_epochs", value);
    return static_cast<int>(value.toInt());
  } catch (const c10::Error& error) {
    ADD_FAILURE() << dir << "/checkpoint.pt does not load: " << error.what_without_backtrace();
    return -1;
  }
}

// Every complete line of metrics.jsonl (the last may be torn by a kill while appending).
std::vector<EpochMetrics> ReadMetrics(const std::string& dir) {
  std::vector<EpochMetrics> epochs;
  std::vector<std::string> lines = absl::StrSplit(Read(dir + "/metrics.jsonl"), '\n');
  lines.pop_back();  // after the last newline: empty, or a torn line
  for (const std::string& line : lines) {
    EpochMetrics metrics;
    const absl::Status status = serialization::ParseJson(line, "metrics.jsonl", metrics);
    EXPECT_TRUE(status.ok()) << status;
    epochs.push_back(metrics);
  }
  return epochs;
}

double TestAccuracy(const std::string& dir) {
  ExperimentSummary summary;
  const absl::Status status = serialization::ParseJson(Read(dir + "/summary.json"), "summary.json", summary);
  EXPECT_TRUE(status.ok()) << status;
  return summary.test_accuracy();
}

// Expects every output in `dir` to be valid, and those of a finished run to be the
// uninterrupted run's; returns the checkpoint's completed epochs (0 without one).
int ExpectValidOutputs(const std::string& dir, const std::string& uninterrupted) {
  if (Exists(dir + "/config.textproto")) {
    ExperimentConfig config;
    EXPECT_TRUE(serialization::MergeExperimentConfigFile(dir + "/config.textproto", config).ok());
  }
  ReadMetrics(dir);
  if (Exists(dir + "/model.mcm")) {
    ExpectSameModelTensors(uninterrupted + "/model.mcm", dir + "/model.mcm");
  }
  if (Exists(dir + "/summary.json")) {
    EXPECT_EQ(TestAccuracy(dir), TestAccuracy(uninterrupted));
  }
  if (Exists(dir + "/model.pt")) {
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(dir + "/model.pt");
    } catch (const c10::Error& error) {
      ADD_FAILURE() << dir << "/model.pt does not load: " << error.what_without_backtrace();
    }
  }
  return Exists(dir + "/checkpoint.pt") ? LoadCheckpoint(dir) : 0;
}

class CrashResumeTest : public ::testing::TestWithParam<Subject> {};

// Tests that a run killed at random moments and resumed each time ends exactly as an
// uninterrupted run, with valid outputs after every kill.
TEST_P(CrashResumeTest, KilledRunsResumeToTheUninterruptedResult) {
  const Subject& subject = GetParam();
  const std::string logs = FreshTestDirectory(subject.name + "_logs");
  const std::string uninterrupted = FreshTestDirectory(subject.name + "_uninterrupted");
  const auto start = std::chrono::steady_clock::now();
  const absl::StatusOr<ExitStatus> straight = RunChild(
      Command(subject, uninterrupted), {logs + "/uninterrupted.out", logs + "/uninterrupted.err"});
  const double run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(straight.ok() && straight->exited && straight->code == 0) << Read(logs + "/uninterrupted.err");
  const std::vector<EpochMetrics> expected_metrics = ReadMetrics(uninterrupted);
  ASSERT_EQ(expected_metrics.size(), static_cast<size_t>(kEpochs));

  std::mt19937 random(kKillSeed);
  std::bernoulli_distribution at_a_write(0.5);
  std::uniform_real_distribution<double> delay_seconds(0, run_seconds);
  std::uniform_int_distribution<int> write_number(1, WritesPerRun(subject));
  int kills = 0;
  int kills_at_writes = 0;
  int attempts = 0;
  std::map<std::string, int> landed;
  for (int round = 0; kills < kMinKills; ++round) {
    ASSERT_LT(round, kMaxRounds) << "only " << kills << " kills in " << round << " rounds";
    const std::string dir = FreshTestDirectory(absl::StrCat(subject.name, "_round", round));
    int checkpoint_epochs = 0;
    for (bool finished = false; !finished; ++attempts) {
      KillPlan plan;
      if (at_a_write(random)) {
        plan.at_write = write_number(random);
      } else {
        plan.delay = std::chrono::duration<double>(delay_seconds(random));
      }
      const Snapshot before = Snapshot::Of(dir);
      const ChildOutput output = {absl::StrCat(logs, "/attempt", attempts, ".out"),
                                  absl::StrCat(logs, "/attempt", attempts, ".err")};
      const ExitStatus status = RunAttempt(subject, dir, output, plan);
      if (!status.killed()) {
        ASSERT_TRUE(status.exited && status.code == 0)
            << status.ToString() << ": " << Read(output.stderr_path);
        finished = true;
        continue;
      }
      ++kills;
      if (plan.at_write > 0) ++kills_at_writes;
      const int epochs = ExpectValidOutputs(dir, uninterrupted);
      EXPECT_GE(epochs, checkpoint_epochs) << "the checkpoint went back";
      checkpoint_epochs = epochs;
      ++landed[WhereTheKillLanded(subject.final_writes, before, Snapshot::Of(dir), epochs, Read(output.stdout_path))];
      if (::testing::Test::HasFailure()) return;
    }
    ExpectSameModelTensors(uninterrupted + "/model.mcm", dir + "/model.mcm");
    EXPECT_EQ(TestAccuracy(dir), TestAccuracy(uninterrupted));
    const std::vector<EpochMetrics> metrics = ReadMetrics(dir);
    ASSERT_EQ(metrics.size(), expected_metrics.size());
    for (size_t i = 0; i < metrics.size(); ++i) {
      EXPECT_EQ(metrics[i].epoch(), expected_metrics[i].epoch());
      EXPECT_EQ(metrics[i].train_loss(), expected_metrics[i].train_loss());
      EXPECT_EQ(metrics[i].test_accuracy(), expected_metrics[i].test_accuracy());
    }
    EXPECT_TRUE(Snapshot::Of(dir).temporaries.empty()) << "temporaries left in " << dir;
    if (::testing::Test::HasFailure()) return;
  }

  std::cout << kills << " kills survived (" << kills - kills_at_writes << " at random moments, "
            << kills_at_writes << " as a write began; " << attempts << " attempts; uninterrupted run "
            << run_seconds << " s); where they landed:" << std::endl;
  for (const auto& [where, count] : landed) std::cout << "  " << count << "  " << where << std::endl;
  EXPECT_GE(kills, kMinKills);
}

INSTANTIATE_TEST_SUITE_P(Binaries, CrashResumeTest, ::testing::ValuesIn(kSubjects),
                         [](const ::testing::TestParamInfo<Subject>& info) { return info.param.name; });

}  // namespace
}  // namespace mc::experiments
