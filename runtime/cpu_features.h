// File: cpu_features.h
// Which SIMD instruction set the runtime's kernels use. Every kernel is compiled for each
// instruction set in the same binary (per-function target attributes, default compiler flags)
// and picks one at run time: the best the CPU has, or a lower one named by the environment
// variable MC_RUNTIME_ISA (scalar | avx2 | avx512vnni), so that tests and benchmarks can run
// every path on one machine.
//
// Kernels take the instruction set as an explicit last argument that defaults to ActiveIsa();
// a test passes each Isa in turn instead of changing global state. A request above what the
// CPU has is lowered to DetectIsa(), so no kernel ever executes an unsupported instruction.
//
// Example:
//   GemmFloat(w, x, batch, w.cols, y, w.rows, 0, w.rows);               // ActiveIsa()
//   GemmFloat(w, x, batch, w.cols, y, w.rows, 0, w.rows, Isa::kScalar);  // portable path
#ifndef MC_RUNTIME_CPU_FEATURES_H_
#define MC_RUNTIME_CPU_FEATURES_H_

namespace mc::runtime {

/// Instruction sets in increasing order: a CPU that runs one also runs those below it.
enum class Isa { kScalar, kAvx2, kAvx512Vnni };

/// The best instruction set of this CPU: kAvx512Vnni needs AVX-512 F, BW, VL and VNNI (and
/// AVX2, FMA); kAvx2 needs AVX2 and FMA. Cached after the first call.
Isa DetectIsa();

/// DetectIsa(), lowered to the value of MC_RUNTIME_ISA when that names a lower one (a higher
/// one is clamped to DetectIsa(); an unknown value is ignored). Read once and cached.
Isa ActiveIsa();

/// `requested` lowered to what this CPU supports: min(requested, DetectIsa()).
Isa SupportedIsa(Isa requested);

/// "scalar", "avx2" or "avx512vnni": the names MC_RUNTIME_ISA accepts.
const char* IsaName(Isa isa);

/// Sets *isa to the instruction set named `name` (as IsaName spells it). Returns false, leaving
/// *isa unchanged, for any other name.
bool ParseIsa(const char* name, Isa* isa);

}  // namespace mc::runtime

#endif  // MC_RUNTIME_CPU_FEATURES_H_
