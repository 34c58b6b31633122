"""Compiler options for libraries built on //third_party:torch."""

# at::parallel_for is a header template that splits its loop across LibTorch's intra-op
# threads only where _OPENMP is defined: a library that calls it compiles with these options,
# or its loop runs on one thread whatever --threads says. //third_party:torch links libgomp.
PARALLEL_FOR_COPTS = ["-fopenmp"]
