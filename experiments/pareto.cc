#include "experiments/pareto.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "serialization/atomic_file.h"

namespace mc::experiments {
namespace {

constexpr double kWidth = 640, kHeight = 420;
constexpr double kLeft = 70, kRight = 30, kTop = 40, kBottom = 50;

std::string Escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

// Maps model sizes (log scale) and accuracies to SVG coordinates within the margins.
struct PlotScale {
  double log_low, log_high;            ///< log10 of the smallest and largest size shown
  double accuracy_low, accuracy_high;  ///< smallest and largest accuracy shown

  double X(double size) const {
    return kLeft + (std::log10(std::max(size, 1e-6)) - log_low) / (log_high - log_low) *
                       (kWidth - kLeft - kRight);
  }
  double Y(double accuracy) const {
    return kHeight - kBottom -
           (accuracy - accuracy_low) / (accuracy_high - accuracy_low) * (kHeight - kTop - kBottom);
  }
};

// The scale that shows every point, with 0.1 decade of size and 0.01 of accuracy to spare.
PlotScale FitScale(const std::vector<ParetoPoint>& points) {
  double min_size = points[0].model_size_mb, max_size = min_size;
  double min_accuracy = points[0].test_accuracy, max_accuracy = min_accuracy;
  for (const ParetoPoint& point : points) {
    min_size = std::min(min_size, point.model_size_mb);
    max_size = std::max(max_size, point.model_size_mb);
    min_accuracy = std::min(min_accuracy, point.test_accuracy);
    max_accuracy = std::max(max_accuracy, point.test_accuracy);
  }
  return {std::log10(std::max(min_size, 1e-6)) - 0.1, std::log10(std::max(max_size, 1e-6)) + 0.1,
          min_accuracy - 0.01, max_accuracy + 0.01};
}

// The opening <svg> tag, a white background and the title.
std::string SvgHeader(const std::string& title) {
  return absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%.0f\" y=\"22\" font-size=\"15\">%s</text>\n",
      kWidth, kHeight, kLeft, Escape(title));
}

// Size ticks and grid lines at powers of 10 and their 2x/5x.
void AppendSizeTicks(const PlotScale& scale, std::string& svg) {
  for (int exponent = static_cast<int>(std::floor(scale.log_low));
       exponent <= std::ceil(scale.log_high); ++exponent) {
    for (const double mantissa : {1.0, 2.0, 5.0}) {
      const double size = mantissa * std::pow(10.0, exponent);
      const double log_size = std::log10(size);
      if (log_size < scale.log_low || log_size > scale.log_high) continue;
      absl::StrAppendFormat(&svg,
                            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\"/>"
                            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                            scale.X(size), kTop, scale.X(size), kHeight - kBottom, scale.X(size),
                            kHeight - kBottom + 16, size);
    }
  }
}

// Accuracy ticks and grid lines every 0.05, or every 0.01 over a range of at most 0.1.
void AppendAccuracyTicks(const PlotScale& scale, std::string& svg) {
  const double accuracy_step = (scale.accuracy_high - scale.accuracy_low) > 0.1 ? 0.05 : 0.01;
  for (double accuracy = std::ceil(scale.accuracy_low / accuracy_step) * accuracy_step;
       accuracy <= scale.accuracy_high; accuracy += accuracy_step) {
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n",
                          kLeft, scale.Y(accuracy), kWidth - kRight, scale.Y(accuracy), kLeft - 6,
                          scale.Y(accuracy) + 4, accuracy);
  }
}

// Both axes with their ticks and titles.
void AppendAxes(const PlotScale& scale, std::string& svg) {
  absl::StrAppendFormat(&svg,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n"
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
                        kLeft, kHeight - kBottom, kWidth - kRight, kHeight - kBottom, kLeft, kTop,
                        kLeft, kHeight - kBottom);
  AppendSizeTicks(scale, svg);
  AppendAccuracyTicks(scale, svg);
  absl::StrAppendFormat(&svg,
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">model size (MB, log scale)</text>\n"
                        "<text x=\"16\" y=\"%.1f\" transform=\"rotate(-90 16 %.1f)\" "
                        "text-anchor=\"middle\">test accuracy</text>\n",
                        (kLeft + kWidth - kRight) / 2, kHeight - 10, (kTop + kHeight - kBottom) / 2,
                        (kTop + kHeight - kBottom) / 2);
}

// The DiffQ points (those with a penalty) joined in size order; nothing without any.
void AppendDiffqFront(const std::vector<ParetoPoint>& points, const PlotScale& scale,
                      std::string& svg) {
  std::vector<ParetoPoint> diffq;
  for (const ParetoPoint& point : points) {
    if (point.penalty >= 0) diffq.push_back(point);
  }
  std::sort(diffq.begin(), diffq.end(), [](const ParetoPoint& a, const ParetoPoint& b) {
    return a.model_size_mb < b.model_size_mb;
  });
  std::string line;
  for (const ParetoPoint& point : diffq) {
    absl::StrAppendFormat(&line, "%s%.1f,%.1f", line.empty() ? "" : " ",
                          scale.X(point.model_size_mb), scale.Y(point.test_accuracy));
  }
  if (!line.empty()) {
    absl::StrAppend(&svg, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"",
                    line, "\"/>\n");
  }
}

// Every point as a labelled marker: DiffQ points small with their penalty, the reference
// points larger with their method (float red, the others green).
void AppendPoints(const std::vector<ParetoPoint>& points, const PlotScale& scale,
                  std::string& svg) {
  for (const ParetoPoint& point : points) {
    const bool sweep = point.penalty >= 0;
    absl::StrAppendFormat(
        &svg,
        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" fill=\"%s\"/>"
        "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
        scale.X(point.model_size_mb), scale.Y(point.test_accuracy), sweep ? 4 : 6,
        sweep ? "#1f77b4" : (point.method == "float" ? "#d62728" : "#2ca02c"),
        scale.X(point.model_size_mb) + 7, scale.Y(point.test_accuracy) - 7,
        Escape(sweep ? absl::StrFormat("diffq p=%g", point.penalty) : point.method));
  }
}

}  // namespace

absl::Status WriteParetoCsv(const std::string& path, const std::vector<ParetoPoint>& points) {
  std::string csv = "method,penalty,model_size_mb,test_accuracy\n";
  for (const ParetoPoint& point : points) {
    absl::StrAppend(&csv, point.method, ",",
                    point.penalty >= 0 ? absl::StrFormat("%g", point.penalty) : "", ",",
                    absl::StrFormat("%.6f,%.6f", point.model_size_mb, point.test_accuracy), "\n");
  }
  return serialization::WriteFileAtomically(path, csv);
}

absl::Status WriteParetoSvg(const std::string& path, const std::vector<ParetoPoint>& points,
                            const std::string& title) {
  if (points.empty()) return absl::InvalidArgumentError("no points to plot");
  const PlotScale scale = FitScale(points);
  std::string svg = SvgHeader(title);
  AppendAxes(scale, svg);
  AppendDiffqFront(points, scale, svg);
  AppendPoints(points, scale, svg);
  svg += "</svg>\n";
  return serialization::WriteFileAtomically(path, svg);
}

}  // namespace mc::experiments
