#include "experiments/pareto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "serialization/atomic_file.h"

namespace mc::experiments {
namespace {

using ::testing::HasSubstr;

std::vector<ParetoPoint> Points() {
  return {{"float", -1, 1.03, 0.92},
          {"qat4", -1, 0.13, 0.90},
          {"diffq", 10, 0.09, 0.905},
          {"diffq", 1, 0.2, 0.915}};
}

// Tests the CSV columns and that reference points have no penalty.
TEST(ParetoTest, Csv) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/pareto.csv";
  ASSERT_TRUE(WriteParetoCsv(path, Points()).ok());
  absl::StatusOr<std::string> csv = serialization::ReadFileToString(path);
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(*csv,
            "method,penalty,model_size_mb,test_accuracy\n"
            "float,,1.030000,0.920000\n"
            "qat4,,0.130000,0.900000\n"
            "diffq,10,0.090000,0.905000\n"
            "diffq,1,0.200000,0.915000\n");
}

// Tests that the plot is an SVG with every point, labels and the DiffQ front as a line.
TEST(ParetoTest, Svg) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/pareto.svg";
  ASSERT_TRUE(WriteParetoSvg(path, Points(), "ResNet-20 <test>").ok());
  absl::StatusOr<std::string> svg = serialization::ReadFileToString(path);
  ASSERT_TRUE(svg.ok());
  EXPECT_THAT(*svg, HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(*svg, HasSubstr("ResNet-20 &lt;test&gt;"));
  EXPECT_THAT(*svg, HasSubstr("<polyline"));
  size_t circles = 0;
  for (size_t at = svg->find("<circle"); at != std::string::npos; at = svg->find("<circle", at + 1)) {
    ++circles;
  }
  EXPECT_EQ(circles, 4u);
  EXPECT_THAT(*svg, HasSubstr(">diffq p=10<"));
  EXPECT_THAT(*svg, HasSubstr(">qat4<"));
  EXPECT_FALSE(WriteParetoSvg(path, {}, "empty").ok());
}

}  // namespace
}  // namespace mc::experiments
