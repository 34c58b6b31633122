#include "data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "data/dataset_info.h"
#include "data/labeled_images.h"
#include "data/seeded_rng.h"

namespace mc::data {
namespace {

constexpr double kPi = 3.14159265358979323846;
// Pixel intensities: mid-grey plus a class colour, a class stripe pattern, a per-image
// brightness shift and per-pixel noise. The class signals are large next to the noise: a
// two-layer convolutional network reaches about 98% test accuracy after one epoch of the
// default 2,000 images.
constexpr double kBackground = 128.0;
constexpr double kColourAmplitude = 50.0;
constexpr double kStripeAmplitude = 40.0;
constexpr double kBrightnessRange = 40.0;  // uniform in [-20, 20]
constexpr double kNoiseStd = 30.0;
constexpr double kStripeCycles = 3.0;  // stripes per image side

// Stream tags keep the training and test images independent of each other.
constexpr uint64_t kSplitTag[] = {0x7261'696e, 0x7465'7374};

// Class k's colour: a hue angle 2*pi*k/K on the red-green plane plus a blue offset of
// alternating sign, so that neighbouring hues differ in blue as well.
double ClassColour(int64_t label, int64_t channel, int64_t num_classes) {
  const double hue = 2 * kPi * static_cast<double>(label) / static_cast<double>(num_classes);
  switch (channel) {
    case 0:
      return std::cos(hue);
    case 1:
      return std::sin(hue);
    default:
      return label % 2 == 0 ? -0.5 : 0.5;
  }
}

// Stripes of class k run at angle pi*k/K. The pattern of an image is
// sin(angle_term + phase) = sin(angle_term) cos(phase) + cos(angle_term) sin(phase), so two
// tables per class give every phase without calling sin per pixel.
struct StripeTables {
  std::vector<double> sine;    // (K, H, W)
  std::vector<double> cosine;  // (K, H, W)
};

StripeTables MakeStripeTables(const DatasetInfo& info) {
  StripeTables tables;
  const int64_t plane = info.height * info.width;
  tables.sine.resize(info.num_classes * plane);
  tables.cosine.resize(info.num_classes * plane);
  for (int64_t k = 0; k < info.num_classes; ++k) {
    const double angle = kPi * static_cast<double>(k) / static_cast<double>(info.num_classes);
    const double step = 2 * kPi * kStripeCycles / static_cast<double>(info.width);
    for (int64_t y = 0; y < info.height; ++y) {
      for (int64_t x = 0; x < info.width; ++x) {
        const double term = step * (x * std::cos(angle) + y * std::sin(angle));
        tables.sine[k * plane + y * info.width + x] = std::sin(term);
        tables.cosine[k * plane + y * info.width + x] = std::cos(term);
      }
    }
  }
  return tables;
}

// Approximately normal noise with unit variance: the sum of three uniforms drawn from one
// 64-bit value (Irwin-Hall), centred and scaled: one generator call per pixel.
double UnitNoise(SplitMix64& rng) {
  const uint64_t bits = rng.Next();
  constexpr double kScale = 0x1.0p-21;
  const double sum = static_cast<double>(bits & 0x1fffff) * kScale +
                     static_cast<double>((bits >> 21) & 0x1fffff) * kScale +
                     static_cast<double>((bits >> 42) & 0x1fffff) * kScale;
  return (sum - 1.5) * 2.0;
}

}  // namespace

LabeledImages MakeSyntheticImages(Split split, const SyntheticOptions& options) {
  const DatasetInfo info = *GetDatasetInfo("synthetic");
  const int64_t count = split == Split::kTrain ? options.train_size : options.test_size;
  const StripeTables stripes = MakeStripeTables(info);
  const int64_t plane = info.height * info.width;

  LabeledImages set;
  set.channels = info.channels;
  set.height = info.height;
  set.width = info.width;
  set.pixels.resize(count * info.channels * plane);
  set.labels.resize(count);
  for (int64_t i = 0; i < count; ++i) {
    SplitMix64 rng(
        DeriveSeed(options.seed, {kSplitTag[static_cast<int>(split)], static_cast<uint64_t>(i)}));
    const int64_t label = static_cast<int64_t>(rng.Below(info.num_classes));
    const double phase = 2 * kPi * rng.Uniform();
    const double brightness = kBrightnessRange * (rng.Uniform() - 0.5);
    const double stripe_sine_weight = kStripeAmplitude * std::cos(phase);
    const double stripe_cosine_weight = kStripeAmplitude * std::sin(phase);
    const double* sine = stripes.sine.data() + label * plane;
    const double* cosine = stripes.cosine.data() + label * plane;
    uint8_t* image = set.pixels.data() + i * info.channels * plane;
    for (int64_t c = 0; c < info.channels; ++c) {
      const double base =
          kBackground + brightness + kColourAmplitude * ClassColour(label, c, info.num_classes);
      for (int64_t p = 0; p < plane; ++p) {
        const double value = base + stripe_sine_weight * sine[p] +
                             stripe_cosine_weight * cosine[p] + kNoiseStd * UnitNoise(rng);
        image[c * plane + p] = static_cast<uint8_t>(std::clamp(std::lround(value), 0L, 255L));
      }
    }
    set.labels[i] = label;
  }
  return set;
}

}  // namespace mc::data
