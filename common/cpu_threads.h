// File: cpu_threads.h
// The threads of a process's CPU tensor work, set in one call: ATen's intra-op pool (which
// runs the convolutions, BatchNorm and element-wise kernels of a training step) and
// OpenBLAS's own pool.
//
// Debian's OpenBLAS (libopenblas0-pthread) keeps a pool of its own beside ATen's OpenMP
// threads; after every BLAS call its idle workers spin in sched_yield for a while, taking
// the cores from ATen's threads. A convolutional network calls BLAS only for its small
// fully-connected layers, so OpenBLAS runs on the calling thread.
//
// Example:
//   mc::ConfigureCpuThreads(0);   // one intra-op thread per hardware thread
#ifndef MC_COMMON_CPU_THREADS_H_
#define MC_COMMON_CPU_THREADS_H_

namespace mc {

/// Intra-op threads for `requested`: itself when > 0, else one per hardware thread (LibTorch
/// 1.13's own default, from cpuinfo, can be a single thread on a virtual machine with
/// several cores).
int IntraOpThreadCount(int requested);

/// Runs ATen's intra-op work on IntraOpThreadCount(requested) threads and OpenBLAS's on the
/// calling thread (when the process's BLAS is OpenBLAS). Returns the intra-op thread count.
int ConfigureCpuThreads(int requested);

}  // namespace mc

#endif  // MC_COMMON_CPU_THREADS_H_
