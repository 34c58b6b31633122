// Every command-line tool (the experiment binaries and inspect) given a bad command line
// (unknown flags, stray arguments, missing or unreadable files, wrong data set names,
// out-of-range values) must end with exit code 1 and exactly one line on stderr that names what
// is wrong: no abort, no stack trace. Each case starts a binary, about a second on an idle
// machine. model_io/inspect_cli_test.sh has more cases of inspect.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "experiments/testutil.h"
#include "serialization/atomic_file.h"

namespace mc::experiments {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kExperiments[] = {"cifar_baseline", "cifar_distill", "cifar_metaquant",
                                        "cifar_diffq", "cifar_vq"};

struct BadCommandLine {
  /// An experiment binary, or "inspect".
  std::string binary;
  std::string name;
  /// Arguments after the quick defaults of every case; {dir} is the fixture directory.
  std::vector<std::string> args;
  /// What the error line must name.
  std::string names;
};

// Mistakes every experiment binary must refuse alike.
const BadCommandLine kEveryExperiment[] = {
    {"", "UnknownFlag", {"--no_such_flag=1"}, "'no_such_flag'"},
    {"", "StrayArgument", {"stray"}, "\"stray\""},
    {"", "MissingConfig", {"--config={dir}/missing.textproto"}, "missing.textproto"},
    {"", "UnknownDataset", {"--dataset=imagenet"}, "\"imagenet\""},
    {"", "EmptyDataset", {"--dataset="}, "--dataset"},
    {"", "MissingDataDir", {"--dataset=mnist", "--data_dir={dir}/no_such_dir"}, "no_such_dir"},
    {"", "NegativeEpochs", {"--epochs=-1"}, "epochs = -1"},
    {"", "ZeroBatchSize", {"--batch_size=0"}, "batch_size = 0"},
    {"", "ZeroWorldSize", {"--world_size=0"}, "world_size = 0"},
    {"", "RankBeyondWorldSize", {"--world_size=2", "--rank=2"}, "rank = 2"},
};

const BadCommandLine kOneBinary[] = {
    {"cifar_baseline", "NotAnInteger", {"--epochs=abc"}, "'epochs'"},
    {"cifar_baseline", "IntegerOverflow", {"--epochs=99999999999"}, "'epochs'"},
    {"cifar_baseline", "EmptyEpochs", {"--epochs="}, "--epochs"},
    {"cifar_baseline", "NegativeSeed", {"--seed=-1"}, "'seed'"},
    {"cifar_baseline", "NotABool", {"--resume=maybe"}, "'resume'"},
    {"cifar_baseline", "ZeroLearningRate", {"--lr=0"}, "lr = 0"},
    {"cifar_baseline", "NanLearningRate", {"--lr=nan"}, "lr = nan"},
    {"cifar_baseline", "NanWarmup", {"--warmup_epochs=nan"}, "warmup_epochs = nan"},
    {"cifar_baseline", "NegativeThreads", {"--threads=-1"}, "threads = -1"},
    {"cifar_baseline", "TooManyWorkers", {"--workers=1000"}, "workers = 1000"},
    {"cifar_baseline", "NegativeMaxTrainBatches", {"--max_train_batches=-5"}, "max_train_batches = -5"},
    {"cifar_baseline", "SingleDashUnknownFlag", {"-x"}, "'x'"},
    {"cifar_baseline", "ConfigIsADirectory", {"--config={dir}"}, "Is a directory"},
    {"cifar_baseline", "UnparsableConfig", {"--config={dir}/unparsable.textproto"}, "unparsable.textproto"},
    {"cifar_baseline", "ConfigOutOfRange", {"--config={dir}/momentum_above_one.textproto"}, "momentum = 1.5"},
    {"cifar_baseline", "ConfigOfAnotherExperiment", {"--config={dir}/diffq.textproto"}, "\"cifar_diffq\""},
    {"cifar_baseline", "UnknownModel", {"--model=resnet1000"}, "\"resnet1000\""},
    {"cifar_baseline", "CorruptDataFiles", {"--dataset=fashion_mnist", "--data_dir={dir}/garbage"},
     "train-images-idx3-ubyte"},
    {"cifar_baseline", "OutputDirIsAFile", {"--output_dir={dir}/not_a_model.txt"}, "not_a_model.txt"},
    {"cifar_baseline", "OutputDirUnderAFile", {"--output_dir={dir}/not_a_model.txt/run"}, "not_a_model.txt"},
    {"cifar_baseline", "EmptyOutputDir", {"--output_dir="}, "--output_dir"},
    {"cifar_baseline", "MasterPortAbove65535", {"--master_port=70000"}, "master_port = 70000"},
    {"cifar_baseline", "EmptyMasterAddr", {"--master_addr="}, "--master_addr"},

    {"cifar_distill", "ZeroBits", {"--bits=0"}, "bits = 0"},
    {"cifar_distill", "ThirtyThreeBits", {"--bits=33"}, "bits = 33"},
    {"cifar_distill", "UnknownMethod", {"--method=pruning"}, "\"pruning\""},
    {"cifar_distill", "MissingTeacher", {"--teacher={dir}/missing.mcm"}, "missing.mcm"},
    {"cifar_distill", "EmptyTeacher", {"--teacher="}, "--teacher"},
    {"cifar_distill", "TeacherNotAModel", {"--teacher={dir}/not_a_model.txt"}, "not_a_model.txt"},
    {"cifar_distill", "TruncatedTeacher", {"--teacher={dir}/truncated.mcm"}, "truncated.mcm"},
    {"cifar_distill", "CheckpointAsTeacher", {"--teacher={dir}/lenet/checkpoint.pt"}, "checkpoint.pt"},
    {"cifar_distill", "MissingInitFrom", {"--method=quantized", "--init_from={dir}/missing.mcm"}, "missing.mcm"},
    {"cifar_distill", "InitFromAnotherArchitecture",
     {"--method=quantized", "--model=resnet20", "--init_from={dir}/lenet/model.mcm"}, "lenet/model.mcm"},
    {"cifar_distill", "DifferentiableQuantizationWithoutInitFrom",
     {"--method=differentiable_quantization"}, "--init_from"},
    {"cifar_distill", "ZeroTemperature", {"--temperature=0"}, "temperature = 0"},
    {"cifar_distill", "DistillWeightAboveOne", {"--distill_weight=2"}, "distill_weight = 2"},
    {"cifar_distill", "UnknownKlReduction", {"--kl_reduction=sum"}, "\"sum\""},
    {"cifar_distill", "AnnealNotABool", {"--anneal_distill_weight=sometimes"}, "anneal_distill_weight"},
    {"cifar_distill", "NegativeBucketSize", {"--bucket_size=-1"}, "bucket_size = -1"},
    {"cifar_distill", "UnknownPointsInit", {"--points_init=random"}, "\"random\""},
    {"cifar_distill", "RegistryInMissingDirectory",
     {"--method=quantized", "--registry={dir}/no_such_dir/registry.mcr"}, "no_such_dir"},

    {"cifar_metaquant", "ZeroBits", {"--bits=0"}, "bits = 0"},
    {"cifar_metaquant", "ThirtyThreeBits", {"--bits=33"}, "bits = 33"},
    {"cifar_metaquant", "TwoBitBinaryWeights", {"--forward=bwn", "--bits=2"}, "bits = 2"},
    {"cifar_metaquant", "UnknownForward", {"--forward=ternary"}, "\"ternary\""},
    {"cifar_metaquant", "UnknownMeta", {"--meta=rnn"}, "\"rnn\""},
    {"cifar_metaquant", "UnknownOptimizer", {"--optimizer=rmsprop"}, "\"rmsprop\""},
    {"cifar_metaquant", "UnknownLookAhead", {"--look_ahead=future"}, "\"future\""},
    {"cifar_metaquant", "ZeroMetaLr", {"--meta_lr=0"}, "meta_lr = 0"},
    {"cifar_metaquant", "ZeroLrDecayEvery", {"--lr_decay_every=0"}, "lr_decay_every = 0"},
    {"cifar_metaquant", "NegativeLrDecayEvery", {"--lr_decay_every=-3"}, "lr_decay_every = -3"},
    {"cifar_metaquant", "MissingStartFrom", {"--start_from={dir}/missing.mcm"}, "missing.mcm"},
    {"cifar_metaquant", "StartFromNotAModel", {"--start_from={dir}/not_a_model.txt"}, "not_a_model.txt"},

    {"cifar_diffq", "ZeroBits", {"--method=qat", "--bits=0"}, "bits = 0"},
    {"cifar_diffq", "ThirtyThreeBits", {"--method=qat", "--bits=33"}, "bits = 33"},
    {"cifar_diffq", "UnknownMethod", {"--method=pruning"}, "\"pruning\""},
    {"cifar_diffq", "UnknownNoise", {"--noise=pink"}, "\"pink\""},
    {"cifar_diffq", "NegativePenalty", {"--penalty=-1"}, "penalty = -1"},
    {"cifar_diffq", "NegativeGroupSize", {"--group_size=-1"}, "group_size = -1"},
    {"cifar_diffq", "ZeroMinBits", {"--min_bits=0"}, "min_bits = 0"},
    {"cifar_diffq", "SixteenMaxBits", {"--max_bits=16"}, "max_bits = 16"},
    {"cifar_diffq", "ZeroBitsLr", {"--bits_lr=0"}, "bits_lr = 0"},
    {"cifar_diffq", "NegativeMinSize", {"--min_size=-1"}, "min_size = -1"},
    {"cifar_diffq", "BadSweepPenalty", {"--sweep_penalty=1,x"}, "\"x\""},

    {"cifar_vq", "MissingTeacher", {"--teacher={dir}/missing.mcm"}, "missing.mcm"},
    {"cifar_vq", "TeacherNotAModel", {"--teacher={dir}/not_a_model.txt"}, "not_a_model.txt"},
    {"cifar_vq", "BlockSizeNotDividingTheTeacher", {"--teacher={dir}/lenet/model.mcm", "--block_size_fc=7"},
     "block_size 7"},
    {"cifar_vq", "ZeroBlockSize", {"--block_size_cv=0"}, "block_size_conv"},
    {"cifar_vq", "ZeroCentroids", {"--n_centroids_cv=0"}, "centroids_conv"},
    {"cifar_vq", "NegativeLinearCentroids", {"--n_centroids_fc=-1"}, "centroids_linear"},
    {"cifar_vq", "NegativeIterations", {"--n_iter=-1"}, "n_iter"},
    {"cifar_vq", "ZeroActivations", {"--n_activations=0"}, "n_activations"},
    {"cifar_vq", "ZeroActivationRows", {"--activation_rows=0"}, "activation_rows"},
    {"cifar_vq", "NegativeFinetuneSteps", {"--finetune_steps=-1"}, "finetune_steps"},
    {"cifar_vq", "ZeroFinetuneLr", {"--finetune_lr=0"}, "finetune_lr = 0"},
    {"cifar_vq", "NegativeGlobalFinetuneEpochs", {"--global_finetune_epochs=-1"}, "epochs = -1"},
    {"cifar_vq", "NegativeGlobalFinetuneSteps", {"--global_finetune_steps=-1"}, "global_finetune_steps = -1"},

    {"compress_torchscript", "RegistryModel", {"--model=lenet"}, "--model=<TorchScript file>"},
    {"compress_torchscript", "UnknownMethod", {"--model={dir}/scripted.pt", "--method=pq"}, "\"pq\""},
    {"compress_torchscript", "MissingScript", {"--model={dir}/missing.pt"}, "missing.pt"},
    {"compress_torchscript", "PickledModule", {"--model={dir}/pickled_module.pt"}, "torch.save"},
    {"compress_torchscript", "StateDict", {"--model={dir}/state_dict.pt"}, "torch.jit.save"},
    {"compress_torchscript", "TruncatedScript", {"--model={dir}/truncated.pt"}, "truncated"},
    {"compress_torchscript", "TupleForward", {"--model={dir}/tuple_forward.pt"}, "return one tensor"},
    {"compress_torchscript", "ZooTeacher", {"--model={dir}/scripted.pt", "--teacher={dir}/lenet/model.mcm"},
     "model.mcm"},

    {"inspect", "ModelFileIsADirectory", {"{dir}"}, "Is a directory"},
    {"inspect", "EmptyModelFileName", {""}, "no model file given"},
    {"inspect", "TruncatedModelFile", {"{dir}/truncated.mcm"}, "truncated.mcm"},
    {"inspect", "CheckpointAsModelFile", {"{dir}/lenet/checkpoint.pt"}, "checkpoint.pt"},
    {"inspect", "SingleDashUnknownFlag", {"-x", "{dir}/lenet/model.mcm"}, "'x'"},
    {"inspect", "ExportFlagWithoutValue", {"{dir}/lenet/model.mcm", "--export_pytorch"}, "'export_pytorch'"},
    {"inspect", "ExportOverADirectory", {"{dir}/lenet/model.mcm", "--export_pytorch={dir}"}, "Is a directory"},
    {"inspect", "ExportUnderAFile", {"{dir}/lenet/model.mcm", "--export_pytorch={dir}/not_a_model.txt/w.pt"},
     "not_a_model.txt"},
};

void PrintTo(const BadCommandLine& bad, std::ostream* out) {
  *out << bad.binary << " " << absl::StrJoin(bad.args, " ");
}

std::vector<BadCommandLine> AllCases() {
  std::vector<BadCommandLine> cases;
  for (const char* binary : kExperiments) {
    for (BadCommandLine mistake : kEveryExperiment) {
      mistake.binary = binary;
      cases.push_back(mistake);
    }
  }
  cases.insert(cases.end(), std::begin(kOneBinary), std::end(kOneBinary));
  return cases;
}

void WriteOrDie(const std::string& path, const std::string& contents) {
  ASSERT_TRUE(serialization::WriteFileAtomically(path, contents).ok()) << path;
}

// Copies nn_models/testdata/<name> (tools/make_scripted_testdata.py) to `path`.
void CopyTestdata(const std::string& name, const std::string& path) {
  const absl::StatusOr<std::string> bytes =
      serialization::ReadFileToString(RunfilesPath("nn_models/testdata/" + name));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  WriteOrDie(path, *bytes);
}

class BadCommandLineTest : public ::testing::TestWithParam<BadCommandLine> {
 protected:
  // The files the cases name: broken ones, and the model and checkpoint of a short LeNet run.
  static void SetUpTestSuite() {
    dir_ = new std::string(FreshTestDirectory("command_line"));
    const std::string& dir = *dir_;
    WriteOrDie(dir + "/not_a_model.txt", "not a model file\n");
    WriteOrDie(dir + "/unparsable.textproto", "bogus {\n");
    WriteOrDie(dir + "/momentum_above_one.textproto", "training { momentum: 1.5 }\n");
    WriteOrDie(dir + "/diffq.textproto", "experiment: \"cifar_diffq\"\n");
    ASSERT_TRUE(serialization::CreateDirectories(dir + "/garbage").ok());
    for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
      WriteOrDie(absl::StrCat(dir, "/garbage/", name), std::string(100, '\x5e'));
    }
    for (const char* name : {"pickled_module.pt", "state_dict.pt", "tuple_forward.pt"}) {
      CopyTestdata(name, dir + "/" + name);
    }
    CopyTestdata("scripted_residual_gelu.pt", dir + "/scripted.pt");
    const absl::StatusOr<std::string> script = serialization::ReadFileToString(dir + "/scripted.pt");
    ASSERT_TRUE(script.ok()) << script.status();
    WriteOrDie(dir + "/truncated.pt", script->substr(0, script->size() / 2));
    const absl::StatusOr<ExitStatus> lenet = RunChild(
        {RunfilesPath("experiments/cifar_baseline"), "--dataset=synthetic", "--model=lenet",
         "--epochs=1", "--max_train_batches=2", "--threads=1", "--output_dir=" + dir + "/lenet"},
        ChildOutput());
    ASSERT_TRUE(lenet.ok() && lenet->exited && lenet->code == 0);
    const absl::StatusOr<std::string> model = serialization::ReadFileToString(dir + "/lenet/model.mcm");
    ASSERT_TRUE(model.ok()) << model.status();
    WriteOrDie(dir + "/truncated.mcm", model->substr(0, model->size() / 2));
  }

  static std::string* dir_;
};

std::string* BadCommandLineTest::dir_ = nullptr;

// Tests that the bad command line ends with exit code 1 and one line on stderr naming it.
TEST_P(BadCommandLineTest, FailsWithOneLineNamingTheMistake) {
  const BadCommandLine& bad = GetParam();
  const std::string& dir = *dir_;
  std::vector<std::string> argv;
  if (bad.binary == "inspect") {
    argv = {RunfilesPath("model_io/inspect")};
  } else {
    // Quick defaults, so that a mistake let through fails the test in seconds, not hours.
    argv = {RunfilesPath("experiments/" + bad.binary), "--dataset=synthetic", "--model=lenet",
            "--epochs=1", "--max_train_batches=2", "--threads=1",
            absl::StrCat("--output_dir=", dir, "/runs/", bad.binary, "_", bad.name)};
  }
  for (const std::string& arg : bad.args) argv.push_back(absl::StrReplaceAll(arg, {{"{dir}", dir}}));
  ChildOutput output;
  output.stderr_path = absl::StrCat(dir, "/", bad.binary, "_", bad.name, ".stderr");
  const absl::StatusOr<ExitStatus> status = RunChild(argv, output);
  ASSERT_TRUE(status.ok()) << status.status();
  const std::string stderr_text = serialization::ReadFileToString(output.stderr_path).value_or("");

  EXPECT_TRUE(status->exited && status->code == 1) << status->ToString() << "\n" << stderr_text;
  EXPECT_EQ(std::count(stderr_text.begin(), stderr_text.end(), '\n'), 1) << stderr_text;
  EXPECT_THAT(stderr_text, EndsWith("\n"));
  EXPECT_THAT(stderr_text, HasSubstr(bad.names));
  EXPECT_THAT(stderr_text, Not(HasSubstr("terminate called")));
  EXPECT_THAT(stderr_text, Not(HasSubstr("Exception raised from")));  // a LibTorch backtrace
}

// Runs compress_torchscript on the scripted test model with `flags` into `dir`; returns its
// summary.json, or fails the test with the binary's stderr.
std::string RunCompressTorchScript(const std::vector<std::string>& flags, const std::string& dir) {
  std::vector<std::string> argv = {RunfilesPath("experiments/compress_torchscript"), "--dataset=synthetic",
                                   "--model=" + RunfilesPath("nn_models/testdata/scripted_residual_gelu.pt"),
                                   "--threads=1", "--output_dir=" + dir};
  argv.insert(argv.end(), flags.begin(), flags.end());
  const std::string stderr_path = dir + "_stderr";
  const absl::StatusOr<ExitStatus> status = RunChild(argv, {"/dev/null", stderr_path});
  EXPECT_TRUE(status.ok()) << status.status();
  if (!status.ok()) return "";
  EXPECT_TRUE(status->exited && status->code == 0)
      << status->ToString() << ": " << serialization::ReadFileToString(stderr_path).value_or("");
  const absl::StatusOr<std::string> summary = serialization::ReadFileToString(dir + "/summary.json");
  EXPECT_TRUE(summary.ok()) << summary.status();
  return summary.value_or("");
}

// Tests that compress_torchscript trains a scripted model in float and quantizes it, then
// product-quantizes that float model within the global fine-tuning steps asked for, and
// learns quantization points for it.
TEST(GoodCommandLineTest, CompressTorchScriptQuantizesAndProductQuantizesAScript) {
  const std::string dir = FreshTestDirectory("compress_torchscript");
  const std::string summary =
      RunCompressTorchScript({"--method=ptq", "--bits=4", "--epochs=1", "--max_train_batches=2"}, dir);
  EXPECT_TRUE(serialization::ReadFileToString(dir + "/float/model.mcm").ok());
  EXPECT_THAT(summary, HasSubstr("\"method\": \"quantized\""));
  EXPECT_THAT(summary, HasSubstr("\"torchscript_file\""));

  // Product quantization of that float model, its global fine-tuning limited to 3 steps.
  const std::string teacher = "--teacher=" + dir + "/float/model.mcm";
  const std::string vq = RunCompressTorchScript(
      {"--method=vq", teacher, "--n_activations=8", "--finetune_steps=1", "--global_finetune_steps=3"},
      dir + "/vq");
  EXPECT_THAT(vq, HasSubstr("\"method\": \"vq\""));
  EXPECT_THAT(vq, HasSubstr("\"max_train_batches\": 3"));

  // Learned points (differentiable quantization) of that float model, 2 steps.
  const std::string dq = RunCompressTorchScript(
      {"--method=dq", teacher, "--bits=2", "--epochs=1", "--max_train_batches=2"}, dir + "/dq");
  EXPECT_THAT(dq, HasSubstr("\"method\": \"differentiable_quantization\""));
  EXPECT_THAT(dq, HasSubstr("\"encoding\": \"learned_points\""));
}

// Tests that cifar_distill runs into an output directory whose parents do not exist yet
// (its default model registry goes beside that directory).
TEST(GoodCommandLineTest, DistillCreatesTheDirectoryOfItsRegistry) {
  const std::string dir = FreshTestDirectory("fresh_parents");
  const absl::StatusOr<ExitStatus> status = RunChild(
      {RunfilesPath("experiments/cifar_distill"), "--dataset=synthetic", "--model=lenet",
       "--method=quantized", "--epochs=1", "--max_train_batches=2", "--threads=1",
       "--output_dir=" + dir + "/a/b/run"},
      {"/dev/null", dir + "/stderr"});
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->exited && status->code == 0)
      << status->ToString() << ": " << serialization::ReadFileToString(dir + "/stderr").value_or("");
  EXPECT_TRUE(serialization::ReadFileToString(dir + "/a/b/model_registry.mcr").ok());
  EXPECT_TRUE(serialization::ReadFileToString(dir + "/a/b/run/model.mcm").ok());
}

// Tests that cifar_diffq without --method writes the float and DiffQ runs in their own
// directories and the DiffQ summary, float accuracy included, at the top of the output directory.
TEST(GoodCommandLineTest, DiffqSideBySideWritesItsSummaryAtTheTop) {
  const std::string dir = FreshTestDirectory("side_by_side");
  const absl::StatusOr<ExitStatus> status = RunChild(
      {RunfilesPath("experiments/cifar_diffq"), "--dataset=synthetic", "--model=lenet",
       "--epochs=1", "--max_train_batches=2", "--threads=1", "--output_dir=" + dir + "/run"},
      {"/dev/null", dir + "/stderr"});
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(status->exited && status->code == 0)
      << status->ToString() << ": " << serialization::ReadFileToString(dir + "/stderr").value_or("");
  const absl::StatusOr<std::string> top = serialization::ReadFileToString(dir + "/run/summary.json");
  const absl::StatusOr<std::string> diffq =
      serialization::ReadFileToString(dir + "/run/diffq/summary.json");
  ASSERT_TRUE(top.ok()) << top.status();
  ASSERT_TRUE(diffq.ok()) << diffq.status();
  EXPECT_EQ(*top, *diffq);
  EXPECT_THAT(*top, HasSubstr("\"float_test_accuracy\""));
  EXPECT_THAT(*top, HasSubstr("/run/diffq/model.mcm"));
  EXPECT_TRUE(serialization::ReadFileToString(dir + "/run/float/summary.json").ok());
}

INSTANTIATE_TEST_SUITE_P(AllBinaries, BadCommandLineTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<BadCommandLine>& info) {
                           return absl::StrCat(info.param.binary, "_", info.param.name);
                         });

}  // namespace
}  // namespace mc::experiments
