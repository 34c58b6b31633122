// k-means of //vq:kmeans next to Faiss's (faiss::Clustering with an IndexFlatL2, the
// reference implementation of fast CPU k-means) on the same data, single-threaded: n =
// 262,144 points of d = 9 (the subvectors of a 512x512x3x3 convolution with block size 9),
// k = 256, 20 iterations, every point used (Faiss's max_points_per_centroid raised so it does
// not subsample). Each benchmark reports its final objective (sum of squared distances at the
// last assignment step); BM_KMeans_VqOverFaiss runs both alternately and reports the time
// and objective ratios, which are robust to other load on the machine.
//
//   bazel run //benchmarks:kmeans_benchmark -- --benchmark_repetitions=3
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <benchmark/benchmark.h>
#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <omp.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>

#include "common/cpu_threads.h"
#include "vq/kmeans.h"

namespace {

constexpr int64_t kPoints = 262144;
constexpr int64_t kDim = 9;
constexpr int64_t kCentroids = 256;
constexpr int64_t kIterations = 20;

// One thread for ATen, OpenMP (Faiss; ATen sets OpenMP's count too) and OpenBLAS (the sgemm
// of both).
void UseOneThread() {
  mc::ConfigureCpuThreads(1);
  omp_set_num_threads(1);
}

// Standard normal points, written once (so their pages are faulted in before any timing).
const at::Tensor& Points() {
  static const at::Tensor points = [] {
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(42);
    return at::randn({kPoints, kDim}, generator);
  }();
  return points;
}

double RunVq() {
  auto result = mc::vq::KMeans(Points(), mc::vq::KMeansOptions(kCentroids)
                                             .iterations(kIterations)
                                             .seed(1));
  if (!result.ok()) {
    std::cerr << result.status() << "\n";
    std::abort();
  }
  return result->objective.back();
}

double RunFaiss() {
  faiss::ClusteringParameters parameters;
  parameters.niter = kIterations;
  parameters.seed = 1;
  parameters.max_points_per_centroid = kPoints;  // cluster every point
  faiss::Clustering clustering(kDim, kCentroids, parameters);
  faiss::IndexFlatL2 index(kDim);
  clustering.train(kPoints, Points().data_ptr<float>(), index);
  return clustering.iteration_stats.back().obj;
}

// Runs `run` once untimed so that its buffers' pages and the BLAS are warm.
template <typename Run>
double WarmUp(Run run) {
  UseOneThread();
  return run();
}

void BM_KMeans_Vq(benchmark::State& state) {
  double objective = WarmUp(RunVq);
  for (auto _ : state) objective = RunVq();
  state.counters["objective"] = objective;
}
BENCHMARK(BM_KMeans_Vq)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_KMeans_Faiss(benchmark::State& state) {
  double objective = WarmUp(RunFaiss);
  for (auto _ : state) objective = RunFaiss();
  state.counters["objective"] = objective;
}
BENCHMARK(BM_KMeans_Faiss)->Unit(benchmark::kMillisecond)->UseRealTime();

// Both in turn, each timed separately; the manual time is ours.
void BM_KMeans_VqOverFaiss(benchmark::State& state) {
  WarmUp(RunVq);
  WarmUp(RunFaiss);
  double vq_seconds = 0;
  double faiss_seconds = 0;
  double vq_objective = 0;
  double faiss_objective = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    vq_objective = RunVq();
    const auto middle = std::chrono::steady_clock::now();
    faiss_objective = RunFaiss();
    const auto end = std::chrono::steady_clock::now();
    const double vq = std::chrono::duration<double>(middle - start).count();
    vq_seconds += vq;
    faiss_seconds += std::chrono::duration<double>(end - middle).count();
    state.SetIterationTime(vq);
  }
  const double runs = static_cast<double>(state.iterations());
  state.counters["vq_seconds"] = vq_seconds / runs;
  state.counters["faiss_seconds"] = faiss_seconds / runs;
  state.counters["time_ratio"] = vq_seconds / faiss_seconds;
  state.counters["vq_objective"] = vq_objective;
  state.counters["faiss_objective"] = faiss_objective;
  state.counters["objective_ratio"] = vq_objective / faiss_objective;
}
BENCHMARK(BM_KMeans_VqOverFaiss)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(3);

}  // namespace
