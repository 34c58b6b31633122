#include "data/seeded_rng.h"

#include <cstdint>
#include <initializer_list>

namespace mc::data {
namespace {

constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

// The SplitMix64 output function (a variant of MurmurHash3's 64-bit finalizer).
uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t SplitMix64::Next() {
  state_ += kGoldenGamma;
  return Mix64(state_);
}

uint64_t SplitMix64::Below(uint64_t bound) {
  // Multiply-shift maps 64 random bits to [0, bound); rejecting the few low products that
  // would be over-represented makes every value exactly equally likely.
  unsigned __int128 product = static_cast<unsigned __int128>(Next()) * bound;
  uint64_t low = static_cast<uint64_t>(product);
  if (low < bound) {
    const uint64_t threshold = -bound % bound;
    while (low < threshold) {
      product = static_cast<unsigned __int128>(Next()) * bound;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

double SplitMix64::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

uint64_t DeriveSeed(uint64_t seed, std::initializer_list<uint64_t> keys) {
  uint64_t state = Mix64(seed + kGoldenGamma);
  for (const uint64_t key : keys) state = Mix64(state ^ Mix64(key + kGoldenGamma));
  return state;
}

}  // namespace mc::data
