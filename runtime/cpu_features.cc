// File: cpu_features.cc
// CPU instruction-set detection (cpuid through the compiler's __builtin_cpu_supports, which
// also checks that the OS saves the AVX and AVX-512 registers) and the MC_RUNTIME_ISA override.
#include "runtime/cpu_features.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace mc::runtime {
namespace {

Isa DetectIsaUncached() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512_vnni =
      avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  if (avx512_vnni) return Isa::kAvx512Vnni;
  if (avx2) return Isa::kAvx2;
#endif
  return Isa::kScalar;
}

Isa ActiveIsaUncached() {
  Isa requested = DetectIsa();
  const char* name = std::getenv("MC_RUNTIME_ISA");
  if (name != nullptr) ParseIsa(name, &requested);
  return SupportedIsa(requested);
}

}  // namespace

Isa DetectIsa() {
  static const Isa detected = DetectIsaUncached();
  return detected;
}

Isa ActiveIsa() {
  static const Isa active = ActiveIsaUncached();
  return active;
}

Isa SupportedIsa(Isa requested) { return std::min(requested, DetectIsa()); }

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512Vnni:
      return "avx512vnni";
  }
  return "unknown";
}

bool ParseIsa(const char* name, Isa* isa) {
  for (Isa candidate : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512Vnni}) {
    if (std::strcmp(name, IsaName(candidate)) == 0) {
      *isa = candidate;
      return true;
    }
  }
  return false;
}

}  // namespace mc::runtime
