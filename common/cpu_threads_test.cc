#include "common/cpu_threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

namespace mc {
namespace {

TEST(CpuThreadsTest, ZeroMeansOnePerHardwareThread) {
  EXPECT_EQ(IntraOpThreadCount(0), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  EXPECT_EQ(IntraOpThreadCount(3), 3);
}

TEST(CpuThreadsTest, SetsTheIntraOpPool) {
  EXPECT_EQ(ConfigureCpuThreads(3), 3);
  EXPECT_EQ(at::get_num_threads(), 3);
  EXPECT_EQ(ConfigureCpuThreads(1), 1);
  EXPECT_EQ(at::get_num_threads(), 1);
}

TEST(CpuThreadsTest, RunsOpenBlasOnTheCallingThread) {
  using GetThreads = int (*)();
  auto get_threads = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (get_threads == nullptr) GTEST_SKIP() << "the process's BLAS is not OpenBLAS";
  ConfigureCpuThreads(2);
  EXPECT_EQ(get_threads(), 1);
}

}  // namespace
}  // namespace mc
