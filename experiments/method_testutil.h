// File: method_testutil.h
// Test fixtures for the runner and the methods that plug into it: a small run on the
// synthetic data, a trained float model to start methods from, and the save/resume
// round trip every method must pass (a run stopped after its first epoch and resumed writes
// the model file of the run done straight, bit for bit).
//
// Example:
//   ExperimentConfig config = SmallRun("vq_resume");
//   config.mutable_vq()->set_teacher(TrainedFloatModel());
//   ExpectResumedRunMatchesStraightRun(config, &MakeVqTraining);
#ifndef MC_EXPERIMENTS_METHOD_TESTUTIL_H_
#define MC_EXPERIMENTS_METHOD_TESTUTIL_H_

#include <string>

#include "experiments/runner.h"
#include "serialization/experiment_config.pb.h"

namespace mc::experiments {

/// LeNet on the synthetic data, 3 epochs of 20 batches of 32 (SGD with momentum, cosine
/// schedule, seed 7, 1 thread), into TEST_TMPDIR/<name>.
serialization::ExperimentConfig SmallRun(const std::string& name);

/// Runner options that send the log nowhere, optionally resuming.
RunOptions QuietRun(bool resume = false);

/// The model file of a float SmallRun("float_model"), trained once per test binary.
const std::string& TrainedFloatModel();

/// Runs `config` straight into <dir>/straight, then stopped after its first epoch and resumed
/// into <dir>/resumed, and expects the two model files to hold the same tensors bit for bit.
void ExpectResumedRunMatchesStraightRun(const serialization::ExperimentConfig& config,
                                        const MethodFactory& factory);

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_METHOD_TESTUTIL_H_
