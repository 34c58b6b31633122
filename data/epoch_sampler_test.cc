#include "data/epoch_sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/serialize/archive.h>

#include <cstddef>
#include <sstream>
#include <vector>

#include "data/epoch_order.h"

namespace mc::data {
namespace {

using ::testing::ElementsAre;

EpochOrderOptions Shuffled(uint64_t seed) {
  EpochOrderOptions options;
  options.shuffle = true;
  options.seed = seed;
  return options;
}

// Drains the sampler's current epoch into one list of indices, checking each request.
std::vector<size_t> Drain(EpochSampler& sampler, size_t batch_size, int64_t epoch) {
  std::vector<size_t> indices;
  while (auto request = sampler.next(batch_size)) {
    EXPECT_EQ(request->epoch, epoch);
    EXPECT_LE(request->size(), batch_size);
    indices.insert(indices.end(), request->indices.begin(), request->indices.end());
  }
  return indices;
}

// Tests that the sampler yields its epoch's order in batches, the last one partial.
TEST(EpochSamplerTest, YieldsEpochInBatches) {
  EpochSampler sampler(5, EpochOrderOptions{}, /*epoch=*/4);
  auto first = sampler.next(2);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->epoch, 4);
  EXPECT_THAT(first->indices, ElementsAre(0, 1));
  EXPECT_THAT(sampler.next(2)->indices, ElementsAre(2, 3));
  EXPECT_THAT(sampler.next(2)->indices, ElementsAre(4));
  EXPECT_FALSE(sampler.next(2).has_value());
}

// Tests that set_epoch and reset start the chosen epoch's permutation.
TEST(EpochSamplerTest, ResetStartsSelectedEpoch) {
  EpochSampler sampler(100, Shuffled(3));
  EXPECT_EQ(Drain(sampler, 7, 0), EpochShardIndices(100, 0, Shuffled(3)));
  sampler.set_epoch(1);
  sampler.reset();
  EXPECT_EQ(Drain(sampler, 7, 1), EpochShardIndices(100, 1, Shuffled(3)));
  sampler.reset(/*new_size=*/10);
  EXPECT_EQ(Drain(sampler, 7, 1), EpochShardIndices(10, 1, Shuffled(3)));
}

// Tests that saving and loading resumes at the same epoch and position.
TEST(EpochSamplerTest, SaveLoadResumesPosition) {
  EpochSampler sampler(50, Shuffled(9), /*epoch=*/6);
  sampler.next(20);
  torch::serialize::OutputArchive output;
  sampler.save(output);
  std::stringstream stream;
  output.save_to(stream);
  const std::vector<size_t> rest = Drain(sampler, 8, 6);

  EpochSampler restored(1, Shuffled(9));
  torch::serialize::InputArchive input;
  input.load_from(stream);
  restored.load(input);
  EXPECT_EQ(restored.epoch(), 6);
  EXPECT_EQ(Drain(restored, 8, 6), rest);
}

}  // namespace
}  // namespace mc::data
