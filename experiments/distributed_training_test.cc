// Data-parallel training through the runner: two processes on loopback train LeNet (no
// BatchNorm, so the ranks' slices of a batch combine exactly) and must end with identical
// weights, equal to one process training on the same global batches.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <torch/optim/adam.h>
#include <torch/serialize.h>

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "distributed/process_group.h"
#include "distributed/testutil.h"
#include "experiments/float_training.h"
#include "experiments/quantized_training.h"
#include "experiments/runner.h"
#include "quant/diffq.h"
#include "serialization/atomic_file.h"

namespace mc::experiments {
namespace {

using ::testing::HasSubstr;
using serialization::ExperimentConfig;
using serialization::ExperimentSummary;

constexpr int kWorldSize = 2;
constexpr double kWorkerTimeoutSeconds = 240;
// Two ranks average two half-batch means where one process takes one mean: the weights after
// a few steps differ by float rounding only.
constexpr double kRelativeTolerance = 1e-5;
constexpr double kAbsoluteTolerance = 1e-6;

// A few SGD steps (momentum, weight decay, cosine schedule) of LeNet on synthetic images.
ExperimentConfig SmallRun(const std::string& method, const std::string& dir) {
  ExperimentConfig config;
  config.set_experiment("distributed_training_test");
  config.mutable_data()->set_dataset("synthetic");
  config.mutable_data()->set_augment(false);
  config.mutable_data()->set_workers(0);
  config.mutable_model()->set_name("lenet");
  serialization::TrainingConfig& training = *config.mutable_training();
  training.set_epochs(2);
  training.set_batch_size(32);
  training.set_eval_batch_size(500);
  training.set_optimizer(serialization::TrainingConfig::SGD);
  training.set_lr(0.05);
  training.set_momentum(0.9);
  training.set_nesterov(true);
  training.set_weight_decay(5e-4);
  training.set_lr_schedule(serialization::TrainingConfig::COSINE);
  training.set_seed(3);
  training.set_threads(1);
  training.set_max_train_batches(4);
  config.mutable_quantization()->set_method(method);
  config.mutable_output()->set_dir(dir);
  return config;
}

// Float training whose model cannot be compressed, for the failure of rank 0's last stage.
class UncompressibleTraining : public FloatTraining {
 public:
  using FloatTraining::FloatTraining;
  absl::StatusOr<CompressedResult> Compress() override {
    return absl::ResourceExhaustedError("no room for the model");
  }
};

// Float training, DiffQ (model weights by SGD, bit logits by their own Adam), or
// "uncompressible" float training.
absl::StatusOr<std::unique_ptr<TrainingMethod>> MakeMethod(const MethodContext& context) {
  const serialization::TrainingConfig& training = context.config.training();
  if (context.config.quantization().method() == "float") {
    return std::make_unique<FloatTraining>(context.model, training);
  }
  if (context.config.quantization().method() == "uncompressible") {
    return std::make_unique<UncompressibleTraining>(context.model, training);
  }
  return std::make_unique<QuantizedTraining>(
      "diffq", context.model, training, /*penalty=*/1,
      [](std::shared_ptr<torch::nn::Module> model, torch::optim::Optimizer* model_optimizer) {
        auto quantizer = std::make_unique<quant::DiffQuantizer>(
            std::move(model), quant::DiffQuantizerOptions().min_size(0).group_size(8));
        QuantizerSetup setup;
        if (model_optimizer != nullptr) {
          setup.quantizer_optimizer = std::make_unique<torch::optim::Adam>(
              std::vector<torch::optim::OptimizerParamGroup>{}, torch::optim::AdamOptions(1e-2));
          quantizer->setup_optimizer(*setup.quantizer_optimizer, 1e-2);
        } else {
          quantizer->no_optimizer();
        }
        setup.quantizer = std::move(quantizer);
        return setup;
      });
}

struct Trained {
  ExperimentSummary summary;
  std::vector<at::Tensor> initial;  ///< the method's ReplicatedTensors before training
  std::vector<at::Tensor> tensors;  ///< and after
};

// Runs `config` and keeps the method's replicated tensors, which training updates in place.
absl::StatusOr<Trained> Train(const ExperimentConfig& config, distributed::ProcessGroup* group) {
  Trained trained;
  RunOptions options;
  std::ostringstream log;
  options.log = &log;
  options.process_group = group;
  MC_ASSIGN_OR_RETURN(
      trained.summary,
      RunExperiment(config,
                    [&](const MethodContext& context) -> absl::StatusOr<std::unique_ptr<TrainingMethod>> {
                      MC_ASSIGN_OR_RETURN(std::unique_ptr<TrainingMethod> method, MakeMethod(context));
                      trained.tensors = method->ReplicatedTensors();
                      for (const at::Tensor& tensor : trained.tensors) {
                        trained.initial.push_back(tensor.detach().clone());
                      }
                      return method;
                    },
                    options));
  for (at::Tensor& tensor : trained.tensors) tensor = tensor.detach().clone();
  return trained;
}

std::string TensorsFile(const std::string& dir, int rank) { return absl::StrCat(dir, "/rank", rank, ".pt"); }
std::string SummaryFile(const std::string& dir, int rank) { return absl::StrCat(dir, "/rank", rank, ".summary"); }
std::string StatusFile(const std::string& dir, int rank) { return absl::StrCat(dir, "/rank", rank, ".status"); }

// One rank of a two-process run: trains, then saves its tensors and summary into the
// worker directory (<dir>/<method>), or its error into rank<r>.status.
absl::Status RunRank(const distributed::WorkerArgs& args) {
  const std::string method = args.dir.substr(args.dir.find_last_of('/') + 1);
  ExperimentConfig config = SmallRun(method, args.dir + "/out" + std::to_string(args.rank));
  serialization::DistributedConfig& distributed = *config.mutable_distributed();
  distributed.set_world_size(kWorldSize);
  distributed.set_rank(args.rank);
  distributed.set_master_addr("127.0.0.1");
  distributed.set_master_port(args.port);
  distributed.set_timeout_seconds(120);
  distributed::ProcessGroupOptions options;
  options.world_size = kWorldSize;
  options.rank = args.rank;
  options.master_port = args.port;
  options.timeout_seconds = 120;
  MC_ASSIGN_OR_RETURN(std::unique_ptr<distributed::ProcessGroup> group,
                      distributed::ProcessGroup::Connect(options));
  const absl::StatusOr<Trained> run = Train(config, group.get());
  if (!run.ok()) {
    MC_RETURN_IF_ERROR(serialization::WriteFileAtomically(StatusFile(args.dir, args.rank),
                                                          run.status().ToString()));
    return run.status();
  }
  const Trained& trained = *run;
  torch::save(trained.tensors, TensorsFile(args.dir, args.rank));
  return serialization::WriteFileAtomically(SummaryFile(args.dir, args.rank),
                                            trained.summary.SerializeAsString());
}

bool Exists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

class DistributedTrainingTest : public ::testing::TestWithParam<std::string> {};

// Tests that two ranks, each training on half of every global batch, end with identical
// tensors (weights, and DiffQ's bit logits) equal to one process's on the whole batches, that
// both return rank 0's summary, and that rank 0 alone writes the output directory.
TEST_P(DistributedTrainingTest, TwoRanksMatchOneProcess) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", GetParam());
  ASSERT_TRUE(serialization::CreateDirectories(dir).ok());
  const int port = distributed::FreePort();
  std::vector<pid_t> ranks;
  for (int rank = 0; rank < kWorldSize; ++rank) ranks.push_back(distributed::SpawnWorker({rank, port, dir}));
  for (int rank = 0; rank < kWorldSize; ++rank) {
    ASSERT_EQ(distributed::WaitForExit(ranks[rank], kWorkerTimeoutSeconds), 0) << "rank " << rank;
  }

  MC_ASSERT_OK_AND_ASSIGN(const Trained single, Train(SmallRun(GetParam(), dir + "/single"), nullptr));
  std::vector<std::vector<at::Tensor>> tensors(kWorldSize);
  std::vector<ExperimentSummary> summaries(kWorldSize);
  for (int rank = 0; rank < kWorldSize; ++rank) {
    torch::load(tensors[rank], TensorsFile(dir, rank));
    MC_ASSERT_OK_AND_ASSIGN(const std::string bytes, serialization::ReadFileToString(SummaryFile(dir, rank)));
    ASSERT_TRUE(summaries[rank].ParseFromString(bytes));
  }
  ASSERT_EQ(tensors[0].size(), single.tensors.size());
  ASSERT_EQ(tensors[1].size(), single.tensors.size());
  for (size_t i = 0; i < single.tensors.size(); ++i) {
    EXPECT_TRUE(at::equal(tensors[0][i], tensors[1][i])) << "tensor " << i << " differs between the ranks";
    EXPECT_TRUE(at::allclose(tensors[0][i], single.tensors[i], kRelativeTolerance, kAbsoluteTolerance))
        << "tensor " << i << ": largest difference from one process "
        << (tensors[0][i] - single.tensors[i]).abs().max().item<double>();
  }
  // Training moved the weights: the comparison is not of untouched initial values.
  EXPECT_FALSE(at::allclose(single.tensors[0], single.initial[0], kRelativeTolerance, kAbsoluteTolerance));

  EXPECT_EQ(summaries[1].SerializeAsString(), summaries[0].SerializeAsString());
  EXPECT_EQ(summaries[0].model_file(), dir + "/out0/model.mcm");
  EXPECT_TRUE(Exists(dir + "/out0/metrics.jsonl"));
  EXPECT_TRUE(Exists(dir + "/out0/checkpoint.pt"));
  EXPECT_FALSE(Exists(dir + "/out1")) << "rank 1 wrote outputs";
}

INSTANTIATE_TEST_SUITE_P(Methods, DistributedTrainingTest, ::testing::Values("float", "diffq"));

// Tests that a failure of rank 0 alone (its method cannot compress the model while rank 1
// waits for the summary) ends both ranks, rank 1 with rank 0's status code and message.
TEST(DistributedRunnerTest, RankZeroFailureEndsEveryRankWithItsCode) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/uncompressible");
  ASSERT_TRUE(serialization::CreateDirectories(dir).ok());
  const int port = distributed::FreePort();
  std::vector<pid_t> ranks;
  for (int rank = 0; rank < kWorldSize; ++rank) ranks.push_back(distributed::SpawnWorker({rank, port, dir}));
  for (int rank = 0; rank < kWorldSize; ++rank) {
    EXPECT_EQ(distributed::WaitForExit(ranks[rank], kWorkerTimeoutSeconds), 1) << "rank " << rank;
  }
  EXPECT_THAT(serialization::ReadFileToString(StatusFile(dir, 0)),
              IsOkAndHolds("RESOURCE_EXHAUSTED: no room for the model"));
  EXPECT_THAT(serialization::ReadFileToString(StatusFile(dir, 1)),
              IsOkAndHolds("RESOURCE_EXHAUSTED: rank 0 failed: no room for the model"));
}

// Tests that a data-parallel configuration without a process group is refused up front.
TEST(DistributedRunnerTest, RefusesWorldWithoutProcessGroup) {
  ExperimentConfig config = SmallRun("float", absl::StrCat(std::getenv("TEST_TMPDIR"), "/no_group"));
  config.mutable_distributed()->set_world_size(2);
  config.mutable_distributed()->set_rank(0);
  EXPECT_THAT(Train(config, nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("distributed.world_size = 2 needs a process group")));
}

}  // namespace
}  // namespace mc::experiments

// As a worker, runs one rank of TwoRanksMatchOneProcess; otherwise runs the tests.
int main(int argc, char** argv) {
  if (const std::optional<mc::distributed::WorkerArgs> worker = mc::distributed::ParseWorkerArgs(argc, argv)) {
    const absl::Status status = mc::experiments::RunRank(*worker);
    if (!status.ok()) std::cerr << "rank " << worker->rank << ": " << status << std::endl;
    return status.ok() ? 0 : 1;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
