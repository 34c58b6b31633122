#include "data/testutil.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/cifar_reader.h"
#include "data/labeled_images.h"

namespace mc::data {

std::string MakeTestDir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes,
               Compression compression) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  if (compression == Compression::kNone) {
    std::ofstream file(path, std::ios::binary);
    file.write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(file.good()) << "cannot write " << path;
    return;
  }
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << "cannot open " << path;
  const int written = gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  const int closed = gzclose(file);
  ASSERT_EQ(written, static_cast<int>(bytes.size())) << "cannot write " << path;
  ASSERT_EQ(closed, Z_OK) << "cannot close " << path;
}

std::vector<uint8_t> IdxFileBytes(const std::vector<int64_t>& dims,
                                  const std::vector<uint8_t>& values) {
  std::vector<uint8_t> bytes = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (const int64_t size : dims) {
    for (const int shift : {24, 16, 8, 0}) bytes.push_back(static_cast<uint8_t>(size >> shift));
  }
  bytes.insert(bytes.end(), values.begin(), values.end());
  return bytes;
}

LabeledImages PatternedImages(int64_t count, int64_t channels, int64_t height, int64_t width,
                              int64_t num_classes) {
  LabeledImages images;
  images.channels = channels;
  images.height = height;
  images.width = width;
  for (int64_t i = 0; i < count; ++i) {
    images.labels.push_back((i * 7 + 3) % num_classes);
    for (int64_t p = 0; p < images.image_size(); ++p) {
      images.pixels.push_back(static_cast<uint8_t>(i * 31 + p * 7 + p / width));
    }
  }
  return images;
}

std::vector<uint8_t> CifarFileBytes(const LabeledImages& images, CifarVariant variant) {
  std::vector<uint8_t> bytes;
  for (int64_t i = 0; i < images.size(); ++i) {
    const auto label = static_cast<uint8_t>(images.labels[i]);
    if (variant == CifarVariant::kCifar100) bytes.push_back(label / 5);
    bytes.push_back(label);
    const auto first = images.pixels.begin() + i * kCifarImageBytes;
    bytes.insert(bytes.end(), first, first + kCifarImageBytes);
  }
  return bytes;
}

}  // namespace mc::data
