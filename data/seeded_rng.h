// File: seeded_rng.h
// A small counter-based random number generator whose output is fixed by this file alone,
// not by the standard library: std::shuffle and the std::*_distribution classes differ
// between implementations, which would make "same seed, same data" hold on one machine only.
//
// Example:
//   SplitMix64 rng(DeriveSeed(seed, {kAugmentStream, epoch, index}));
//   const uint64_t offset = rng.Below(9);   // uniform in [0, 9)
#ifndef MC_DATA_SEEDED_RNG_H_
#define MC_DATA_SEEDED_RNG_H_

#include <cstdint>
#include <initializer_list>

namespace mc::data {

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014): a 64-bit state advanced by a Weyl increment and passed through a mixer.
/// Cheap to seed, so every (seed, epoch, example) can own a fresh generator.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  /// Returns the next 64 uniformly distributed bits.
  uint64_t Next();

  /// Returns an integer uniformly distributed in [0, bound), without modulo bias
  /// (Lemire, "Fast random integer generation in an interval", 2019). bound must be > 0.
  uint64_t Below(uint64_t bound);

  /// Returns a double uniformly distributed in [0, 1), with 53 random bits.
  double Uniform();

 private:
  uint64_t state_;
};

/// Derives the seed of an independent stream from `seed` and a sequence of keys, e.g.
/// {stream tag, epoch, example index}. Different key sequences give unrelated seeds.
uint64_t DeriveSeed(uint64_t seed, std::initializer_list<uint64_t> keys);

}  // namespace mc::data

#endif  // MC_DATA_SEEDED_RNG_H_
