// File: side_by_side.h
// Two pieces of work timed in alternation within every benchmark iteration, so that a shared,
// noisy machine slows both alike: the benchmark's counters are their mean milliseconds and
// the ratio of the second to the first.
//
// Example:
//   SideBySide(state, {"float", [&] { FloatStep(); }}, {"diffq", [&] { DiffqStep(); }});
//   // counters float_ms, diffq_ms, ratio (diffq / float)
#ifndef MC_BENCHMARKS_SIDE_BY_SIDE_H_
#define MC_BENCHMARKS_SIDE_BY_SIDE_H_

#include <benchmark/benchmark.h>

#include <chrono>
#include <functional>
#include <string>

namespace mc::benchmarks {

/// A named piece of work.
struct Work {
  std::string name;
  std::function<void()> run;
};

/// Runs `a` and `b` three times each first (allocations, oneDNN primitives, first touches of
/// memory), then once each per iteration; the iteration's time is their sum (register the
/// benchmark with UseManualTime()).
inline void SideBySide(benchmark::State& state, const Work& a, const Work& b) {
  using Clock = std::chrono::steady_clock;
  const auto milliseconds = [](Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  for (int i = 0; i < 3; ++i) {
    a.run();
    b.run();
  }
  double a_ms = 0;
  double b_ms = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    a.run();
    const auto t1 = Clock::now();
    b.run();
    const auto t2 = Clock::now();
    a_ms += milliseconds(t1 - t0);
    b_ms += milliseconds(t2 - t1);
    state.SetIterationTime(std::chrono::duration<double>(t2 - t0).count());
  }
  const double n = static_cast<double>(state.iterations());
  state.counters[a.name + "_ms"] = a_ms / n;
  state.counters[b.name + "_ms"] = b_ms / n;
  state.counters["ratio"] = b_ms / a_ms;
}

}  // namespace mc::benchmarks

#endif  // MC_BENCHMARKS_SIDE_BY_SIDE_H_
