// File: runner.h
// The experiment runner every experiment binary shares: loads the data set, builds the
// model, trains it with a TrainingMethod (learning-rate schedule, progress, per-epoch
// evaluation, metrics.jsonl and TensorBoard events, an atomic checkpoint after every epoch,
// resume), then writes the compressed model, evaluates the written file and writes
// summary.json.
// Before the method is built, it sets the CPU threads (common/cpu_threads.h) and, unless
// training.memory_format is CONTIGUOUS, stores the model channels-last; every batch it hands
// the method, in training and evaluation, is then channels-last too (nn_models/memory_format.h).
//
// Text corpora (data.dataset kjv, ptb, wikitext2, wikitext103) train language models
// (nn_models/language_model.h) the same way: the vocabulary built from the training split
// (data.vocabulary_size words) sets the number of classes; training reads training.batch_size
// streams and evaluation eval_batch_size streams, in windows of training.bptt steps
// (data/token_loader.h); every epoch is evaluated on the validation split, the written model
// on the test split; summary.json adds valid_perplexity and test_perplexity (exp of the mean
// cross-entropy per token), and images_per_second counts tokens.
//
// Output directory:
//   config.textproto  the full configuration of the run
//   metrics.jsonl     one EpochMetrics line per epoch (serialization/summary.proto)
//   events.out.tfevents.*  TensorBoard events (serialization/event_writer.h), for
//                     `tensorboard --logdir <output_dir>`; see below
//   checkpoint.pt     LibTorch archive of everything a resumed run needs
//   model.mcm         the compressed model (serialization/model_file.h)
//   summary.json      ExperimentSummary
// A run owns its output directory: the temporary files that a killed run left there in the
// middle of a write are deleted when the next run starts.
//
// TensorBoard events, all at the global step (epoch * steps per epoch + step in the epoch):
//   at every 10th step of an epoch: train/step_loss and train/step_accuracy, means over the
//   last 10 steps;
//   after every epoch, the values of its metrics.jsonl line: train/loss, train/accuracy,
//   test/loss and test/accuracy (text corpora: train/perplexity, valid/loss, valid/accuracy
//   and valid/perplexity), lr, images_per_second, epoch_seconds, and the method's
//   EpochExtras(): model_size_mb under its own name (one chart for runs of every method), the
//   others as "<method>/<key>" (diffq/mean_bits); and its EpochHistograms() as
//   "<method>/<key>" (diffq/bits_per_layer).
// Every run, resumed ones included, writes a new events file. TensorBoard reads all the files
// of a directory in name order, and a step logged again drops that tag's points from that
// step on: the epochs a resumed run trains again replace what the interrupted run had logged
// after its checkpoint.
//
// Data-parallel runs (config.distributed, RunOptions::process_group): every rank builds the
// same model and method (same seed; methods calibrate on the whole training set), starts from
// rank 0's ReplicatedTensors, and trains on its slice of every global batch: rank r of W
// takes the examples at positions r, r + W, ... of the epoch's shuffled order, batch_size / W
// of each global batch of batch_size. Methods average their gradients over the ranks before
// every update (TrainingMethod::gradient_sync), so each step is the global batch's. At the
// end of every epoch the ranks take rank 0's ReplicatedTensors (BatchNorm statistics, computed
// per rank on its slice, are rank 0's) and random-generator state; rank 0 alone evaluates
// and writes the output directory while the others wait. The epoch's train_loss and
// train_accuracy in metrics.jsonl are over all ranks' examples (the progress line shows rank
// 0's own), images_per_second counts all ranks' images, and every rank returns rank 0's
// summary. An epoch drops the N mod W examples left over at the end of its order.
//
// Example:
//   absl::StatusOr<ExperimentSummary> summary = RunExperiment(config, factory, RunOptions());
#ifndef MC_EXPERIMENTS_RUNNER_H_
#define MC_EXPERIMENTS_RUNNER_H_

#include <functional>
#include <iostream>
#include <memory>
#include <ostream>

#include "absl/status/statusor.h"
#include "data/image_data.h"
#include "data/batch_source.h"
#include "experiments/training_method.h"
#include "nn_models/classifier.h"
#include "serialization/experiment_config.pb.h"
#include "serialization/summary.pb.h"

namespace mc::distributed {
class ProcessGroup;
}

namespace mc::experiments {

/// What a method is built from.
struct MethodContext {
  const serialization::ExperimentConfig& config;
  const data::DatasetInfo& dataset;
  /// The model to train, freshly built from config.model and seeded with training.seed.
  std::shared_ptr<nn_models::Classifier> model;
  /// The whole training data (the same on every data-parallel rank), for methods that
  /// calibrate on a few batches before training.
  const data::BatchSource& train_loader;
};

using MethodFactory = std::function<absl::StatusOr<std::unique_ptr<TrainingMethod>>(
    const MethodContext& context)>;

struct RunOptions {
  /// Continue from output_dir/checkpoint.pt when it exists (its config must match).
  bool resume = false;
  /// Stop after this many completed epochs, as an interrupted run would (returns
  /// kAborted after the checkpoint is written); 0 runs to the end.
  int32_t stop_after_epochs = 0;
  /// Progress and results (rank 0 only).
  std::ostream* log = &std::cout;
  /// This process's connection to the other ranks; required when
  /// config.distributed.world_size > 1, ignored otherwise.
  distributed::ProcessGroup* process_group = nullptr;
};

/// Runs the experiment described by `config` (already validated) and returns its summary,
/// which is also written to output_dir/summary.json.
/// \error the first failure: data, model or config problems, I/O errors, a non-finite loss
/// or one whose moving average grew tenfold from its lowest (experiments/loss_growth.h; the
/// last checkpoint is kept), kAborted when stopped by stop_after_epochs; in a
/// data-parallel run also a missing or mismatched process group, failed communication, or a
/// failure of rank 0 (reported on every rank).
absl::StatusOr<serialization::ExperimentSummary> RunExperiment(
    const serialization::ExperimentConfig& config, const MethodFactory& factory,
    const RunOptions& options);

/// Whether this process writes the run's outputs: a single process, or rank 0.
bool IsRankZero(const serialization::ExperimentConfig& config);

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_RUNNER_H_
