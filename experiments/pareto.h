// File: pareto.h
// The size-accuracy front of a penalty sweep: pareto.csv and a self-contained SVG plot with
// the reference points (float, fixed-bit QAT) on the same axes.
//
// Example:
//   MC_RETURN_IF_ERROR(WriteParetoCsv(dir + "/pareto.csv", points));
//   MC_RETURN_IF_ERROR(WriteParetoSvg(dir + "/pareto.svg", points, "ResNet-20, Fashion-MNIST"));
#ifndef MC_EXPERIMENTS_PARETO_H_
#define MC_EXPERIMENTS_PARETO_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace mc::experiments {

struct ParetoPoint {
  std::string method;    ///< "diffq", "float", "qat4", ...
  double penalty = -1;   ///< DiffQ's penalty; negative for the reference points
  double model_size_mb = 0;
  double test_accuracy = 0;
};

/// Columns: method,penalty,model_size_mb,test_accuracy (penalty empty for reference points).
absl::Status WriteParetoCsv(const std::string& path, const std::vector<ParetoPoint>& points);

/// Accuracy against model size (log scale); DiffQ points joined in size order and labelled
/// with their penalty, reference points marked and labelled with their method.
absl::Status WriteParetoSvg(const std::string& path, const std::vector<ParetoPoint>& points,
                            const std::string& title);

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_PARETO_H_
