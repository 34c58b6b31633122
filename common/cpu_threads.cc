#include "common/cpu_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>
#include <thread>

namespace mc {
namespace {

// LibTorch does not set OpenBLAS's pool, and the BLAS behind libblas.so.3 is chosen at
// install time, so OpenBLAS's setter is looked up where the library provides it.
void SetOpenBlasThreads(int threads) {
  using SetThreads = void (*)(int);
  if (auto set_threads =
          reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set_threads(threads);
  }
}

}  // namespace

int IntraOpThreadCount(int requested) {
  if (requested > 0) return requested;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int ConfigureCpuThreads(int requested) {
  const int threads = IntraOpThreadCount(requested);
  at::set_num_threads(threads);
  SetOpenBlasThreads(1);
  return threads;
}

}  // namespace mc
