// File: level_checks.cc
#include "runtime/level_checks.h"

#include <stdexcept>

namespace mc::runtime {

void LevelChecks::Fail(const std::string& message) const {
  throw std::invalid_argument(std::string(container_) + ": " + message);
}

void LevelChecks::Shape(int64_t rows, int64_t cols, int block,
                        std::initializer_list<int> blocks) const {
  if (rows < 0 || cols < 0) {
    Fail("rows and cols must not be negative, got " + std::to_string(rows) + " x " +
         std::to_string(cols));
  }
  for (int allowed : blocks) {
    if (block == allowed) return;
  }
  std::string choices;
  int index = 0;
  for (int allowed : blocks) {
    if (index > 0) choices += index + 1 == static_cast<int>(blocks.size()) ? " or " : ", ";
    choices += std::to_string(allowed);
    ++index;
  }
  Fail("block must be " + choices + ", got " + std::to_string(block));
}

void LevelChecks::Inputs(int64_t num_blocks, const void* levels, const uint8_t* widths) const {
  if (num_blocks > 0 && (levels == nullptr || widths == nullptr)) {
    Fail("levels and widths must not be null");
  }
}

void LevelChecks::Width(int width, int max_width, int64_t block_index) const {
  if (width < 1 || width > max_width) {
    Fail("width of block " + std::to_string(block_index) + " is " + std::to_string(width) +
         ", not in 1.." + std::to_string(max_width));
  }
}

void LevelChecks::FailLevel(int level, int width, int64_t row, int64_t col) const {
  Fail("level " + std::to_string(level) + " at row " + std::to_string(row) + ", column " +
       std::to_string(col) + " does not fit its block's width " + std::to_string(width));
}

}  // namespace mc::runtime
