// File: labeled_images.h
// Images and labels as the file readers and the synthetic generator produce them: plain
// vectors, free of LibTorch, so that readers compile fast and are tested without tensors.
// image_data.h turns them into tensors without copying.
//
// Example:
//   MC_ASSIGN_OR_RETURN(LabeledImages set, ReadCifarFiles({path}, CifarVariant::kCifar10));
//   const uint8_t* first_image = set.pixels.data();   // set.image_size() bytes, CHW
#ifndef MC_DATA_LABELED_IMAGES_H_
#define MC_DATA_LABELED_IMAGES_H_

#include <cstdint>
#include <vector>

namespace mc::data {

/// N images of equal shape with one class label each.
struct LabeledImages {
  /// Shape of one image: channels x height x width.
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  /// Pixels, N * channels * height * width bytes. Layout: (N, C, H, W), row-major.
  std::vector<uint8_t> pixels;
  /// Class labels, N values in [0, number of classes).
  std::vector<int64_t> labels;

  /// Number of images N.
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  /// Bytes per image: channels * height * width.
  int64_t image_size() const { return channels * height * width; }
};

}  // namespace mc::data

#endif  // MC_DATA_LABELED_IMAGES_H_
