// Throughput of quant/bitpack, single-threaded, in values per second.
//   bazel run -c opt //benchmarks:bitpack_benchmark -- --benchmark_repetitions=5
// 16M values (32 MB of uint16 input); buffers are written once before timing, because
// memory touched for the first time is very slow on virtual machines.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "quant/bitpack.h"

namespace {

constexpr size_t kValues = size_t{1} << 24;

std::vector<uint16_t> RandomLevels(int bits) {
  std::mt19937 random(bits);
  std::uniform_int_distribution<uint32_t> level(0, (1u << bits) - 1);
  std::vector<uint16_t> values(kValues);
  for (uint16_t& v : values) v = static_cast<uint16_t>(level(random));
  return values;
}

void BM_Bitpack_Pack(benchmark::State& state) {
  const int bits = static_cast<int>(state.range(0));
  const std::vector<uint16_t> values = RandomLevels(bits);
  std::vector<uint8_t> packed(mc::quant::PackedBytes(kValues, bits), 1);
  for (auto _ : state) {
    const absl::Status status = mc::quant::PackBits(values, bits, absl::MakeSpan(packed));
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    benchmark::DoNotOptimize(packed.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kValues));
  state.counters["bytes_per_value"] = static_cast<double>(packed.size()) / kValues;
}

void BM_Bitpack_Unpack(benchmark::State& state) {
  const int bits = static_cast<int>(state.range(0));
  const std::vector<uint16_t> values = RandomLevels(bits);
  std::vector<uint8_t> packed(mc::quant::PackedBytes(kValues, bits));
  if (!mc::quant::PackBits(values, bits, absl::MakeSpan(packed)).ok()) {
    state.SkipWithError("packing failed");
    return;
  }
  std::vector<uint16_t> unpacked(kValues, 1);
  for (auto _ : state) {
    const absl::Status status = mc::quant::UnpackBits(packed, bits, absl::MakeSpan(unpacked));
    if (!status.ok()) state.SkipWithError(std::string(status.message()).c_str());
    benchmark::DoNotOptimize(unpacked.data());
    benchmark::ClobberMemory();
  }
  if (unpacked != values) state.SkipWithError("round trip mismatch");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kValues));
}

BENCHMARK(BM_Bitpack_Pack)->ArgName("bits")->Arg(2)->Arg(4)->Arg(6)->Arg(8)->Arg(15)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Bitpack_Unpack)->ArgName("bits")->Arg(2)->Arg(4)->Arg(6)->Arg(8)->Arg(15)->Unit(benchmark::kMillisecond);

}  // namespace
