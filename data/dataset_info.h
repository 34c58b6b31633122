// File: dataset_info.h
// The data sets the project knows by name: the image sets cifar10, cifar100, fashion_mnist,
// mnist and synthetic (image shape, number of classes, the per-channel mean and standard
// deviation used for normalization) and the text corpora kjv, ptb, wikitext2 and wikitext103
// (their file layout; data/text_corpus.h reads them), and where their files are installed by
// default.
//
// Example:
//   MC_ASSIGN_OR_RETURN(DatasetInfo info, GetDatasetInfo("fashion_mnist"));
//   // info.channels == 1, info.height == 28, info.mean == {0.2860f}
#ifndef MC_DATA_DATASET_INFO_H_
#define MC_DATA_DATASET_INFO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/text_corpus.h"

namespace mc::data {

/// Which half of a data set: the training images or the held-out test images.
enum class Split { kTrain, kTest };

/// "train" or "test".
absl::string_view SplitName(Split split);

/// Static facts about a named data set.
struct DatasetInfo {
  /// Registry name, e.g. "cifar10".
  std::string name;
  /// Shape of one image: channels x height x width.
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  /// Labels lie in [0, num_classes).
  int64_t num_classes = 0;
  /// Per-channel mean and standard deviation of the training pixels scaled to [0, 1];
  /// `channels` values each. Normalization maps a pixel v to (v / 255 - mean) / std.
  std::vector<float> mean;
  std::vector<float> std;
  /// Set for text corpora, whose shape fields are 0 and whose classes are the words of the
  /// vocabulary built from the training split (num_classes is 0 here).
  std::optional<CorpusLayout> corpus_layout;
};

/// Returns the facts about data set `name`.
/// \error kNotFound if `name` is unknown; the message lists the valid names.
absl::StatusOr<DatasetInfo> GetDatasetInfo(absl::string_view name);

/// The names GetDatasetInfo accepts, sorted.
std::vector<std::string> DatasetNames();

/// Directory where the files of data set `name` are looked for when no directory is given:
/// /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist), /usr/share/datasets/mnist,
/// /usr/share/datasets/cifar-10 and /usr/share/datasets/cifar-100 (which hold the extracted
/// cifar-10-batches-bin/ and cifar-100-binary/ directories), /usr/share/datasets/kjv
/// (tools/make_kjv_corpus.sh), /usr/share/datasets/ptb, /usr/share/datasets/wikitext-2 and
/// /usr/share/datasets/wikitext-103. Empty for "synthetic", which has no files, and for
/// unknown names.
std::string DefaultDataDir(absl::string_view name);

}  // namespace mc::data

#endif  // MC_DATA_DATASET_INFO_H_
