#include "experiments/progress.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_format.h"

namespace mc::experiments {
namespace {

constexpr int kBarWidth = 24;

std::string FormatDuration(double seconds) {
  const int64_t total = static_cast<int64_t>(seconds + 0.5);
  if (total >= 3600) return absl::StrFormat("%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60);
  return absl::StrFormat("%d:%02d", total / 60, total % 60);
}

}  // namespace

bool IsTerminal(std::FILE* stream) { return ::isatty(::fileno(stream)) == 1; }

ProgressBar::ProgressBar(std::string label, int64_t total, std::ostream& out, bool interactive,
                         std::string unit)
    : label_(std::move(label)),
      total_(std::max<int64_t>(total, 1)),
      out_(out),
      interactive_(interactive),
      unit_(std::move(unit)),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      last_update_(start_) {}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string ProgressBar::Line(int64_t done, int64_t images, double loss, double accuracy) const {
  const double elapsed = std::chrono::duration<double>(last_update_ - start_).count();
  const double rate = elapsed > 0 ? images / elapsed : 0;
  const double eta = done > 0 ? elapsed * (total_ - done) / done : 0;
  std::string line = label_ + " ";
  if (interactive_) {
    const int filled = static_cast<int>(kBarWidth * done / total_);
    line += "[" + std::string(filled, '=') + (filled < kBarWidth ? ">" : "") +
            std::string(std::max(kBarWidth - filled - 1, 0), ' ') + "] ";
  }
  line += absl::StrFormat("%d/%d loss %.4f acc %.4f %.0f %s/s ", done, total_, loss, accuracy,
                          rate, unit_);
  line += done < total_ ? "ETA " + FormatDuration(eta) : "in " + FormatDuration(elapsed);
  return line;
}

void ProgressBar::Update(int64_t done, int64_t images, double loss, double accuracy) {
  done_ = done;
  images_ = images;
  loss_ = loss;
  accuracy_ = accuracy;
  const auto now = std::chrono::steady_clock::now();
  last_update_ = now;
  if (interactive_) {
    if (drawn_ && now - last_draw_ < std::chrono::milliseconds(200) && done < total_) return;
    drawn_ = true;
    last_draw_ = now;
    out_ << "\r\033[K" << Line(done, images, loss, accuracy) << std::flush;
    return;
  }
  const int64_t decile = 10 * done / total_;
  if (decile > last_plain_decile_ && done < total_) {
    last_plain_decile_ = decile;
    out_ << Line(done, images, loss, accuracy) << std::endl;
  }
}

void ProgressBar::Finish(const std::string& suffix) {
  if (interactive_) out_ << "\r\033[K";
  out_ << Line(done_, images_, loss_, accuracy_) << (suffix.empty() ? "" : " | ") << suffix
       << std::endl;
}

}  // namespace mc::experiments
