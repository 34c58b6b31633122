// Checks that the BLAS LibTorch uses at run time is OpenBLAS.
//
// LibTorch links libblas.so.3, which Debian points at its slow reference BLAS unless
// libopenblas0-pthread is installed (tools/setup.sh installs it). The reference BLAS is
// about 50x slower for float matmul, which every linear layer, LSTM and k-means step pays.
// The test asks the dynamic linker which library provides the `sgemm_` that the process
// binds to after a matmul: no timing.

#include <ATen/ATen.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <climits>
#include <cstdlib>
#include <string>

namespace {

// Returns the resolved path of the library that provides `symbol` to this process, or "".
std::string LibraryProviding(const char* symbol) {
  void* address = dlsym(RTLD_DEFAULT, symbol);
  Dl_info info;
  if (address == nullptr || dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "";
  char resolved[PATH_MAX];
  if (realpath(info.dli_fname, resolved) == nullptr) return info.dli_fname;
  return resolved;
}

// Tests that a float matmul is computed correctly and through OpenBLAS's sgemm.
TEST(BlasBackendTest, MatmulRunsOnOpenBlas) {
  const at::Tensor a = at::arange(64 * 64, at::kFloat).reshape({64, 64}).div(4096);
  const at::Tensor b = at::eye(64, at::kFloat).mul(2);
  ASSERT_TRUE(at::allclose(at::mm(a, b), a.mul(2)));

  const std::string library = LibraryProviding("sgemm_");
  ASSERT_FALSE(library.empty()) << "no library provides sgemm_ after a matmul";
  EXPECT_NE(library.find("openblas"), std::string::npos)
      << "LibTorch's sgemm_ comes from " << library
      << ", not OpenBLAS. Install libopenblas0-pthread (tools/setup.sh does).";
}

}  // namespace
