// File: level_checks.h
// Input checks shared by the builders of level containers (BlockedLevels, WideLevels,
// ByteLevels). Every error starts with the container's name, so that a refused tensor names
// the code that refused it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

namespace mc::runtime {

class LevelChecks {
 public:
  explicit constexpr LevelChecks(const char* container) : container_(container) {}

  // Throws std::invalid_argument("<container>: <message>").
  [[noreturn]] void Fail(const std::string& message) const;

  // rows and cols are not negative and block is one of `blocks`.
  void Shape(int64_t rows, int64_t cols, int block, std::initializer_list<int> blocks) const;

  // levels and widths are given whenever there is a block to read them for.
  void Inputs(int64_t num_blocks, const void* levels, const uint8_t* widths) const;

  // Block `block_index`'s width is in 1..max_width.
  void Width(int width, int max_width, int64_t block_index) const;

  // The level at (row, col) fits its block's width.
  void Level(int level, int width, int64_t row, int64_t col) const {
    if (level >> width != 0) FailLevel(level, width, row, col);
  }

 private:
  [[noreturn]] void FailLevel(int level, int width, int64_t row, int64_t col) const;

  const char* container_;
};

}  // namespace mc::runtime
