// File: progress.h
// Terminal progress for training epochs: a bar with running loss, accuracy, images/s and
// ETA redrawn in place on a terminal, and plain lines (about every 10% of the epoch) when the
// output is a file or a pipe.
//
// Example:
//   ProgressBar bar("epoch 1/5", num_batches, std::cout, IsTerminal(stdout));
//   bar.Update(batch + 1, images_seen, running_loss, running_accuracy);
//   bar.Finish("test accuracy 0.91");
#ifndef MC_EXPERIMENTS_PROGRESS_H_
#define MC_EXPERIMENTS_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>

namespace mc::experiments {

/// True when `stream` is a terminal.
bool IsTerminal(std::FILE* stream);

class ProgressBar {
 public:
  /// `total` batches; `interactive` selects the redrawn bar over plain lines; the rate is
  /// shown as "<rate> <unit>/s" (images, or tokens for language models).
  ProgressBar(std::string label, int64_t total, std::ostream& out, bool interactive,
              std::string unit = "img");

  /// Reports that `done` of `total` batches and `images` examples have been processed.
  void Update(int64_t done, int64_t images, double loss, double accuracy);

  /// Ends the bar with a final line that appends `suffix`. Its images/s and time are those of
  /// the batches, up to the last Update: work done since (e.g. evaluation) is not counted.
  void Finish(const std::string& suffix);

  /// Seconds since construction.
  double elapsed_seconds() const;

 private:
  std::string Line(int64_t done, int64_t images, double loss, double accuracy) const;

  std::string label_;
  int64_t total_;
  std::ostream& out_;
  bool interactive_;
  std::string unit_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::chrono::steady_clock::time_point last_update_;
  bool drawn_ = false;
  int64_t last_plain_decile_ = 0;
  int64_t done_ = 0;
  int64_t images_ = 0;
  double loss_ = 0;
  double accuracy_ = 0;
};

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_PROGRESS_H_
