#include "nn_models/batch_norm_relu.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace mc::nn_models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// The row kernels see a channels-last tensor as `rows` x `channels` floats. Each is compiled
// for AVX2 and for the baseline ISA; the loader picks one per machine.
#define MC_ROW_KERNEL __attribute__((target_clones("avx2", "default")))

// Rows summed in float before the running sums in double: short float sums keep their
// rounding error small, and the inner loop stays a single-precision vector loop.
constexpr int64_t kRowsPerBlock = 64;

// sum1[c] += sum(x - origin[c]) and sum2[c] += sum((x - origin[c])^2) over rows [begin, end).
// The origin (one row of x) keeps the variance E[(x-o)^2] - E[x-o]^2 free of cancellation
// when the mean is large against the spread.
MC_ROW_KERNEL void ShiftedMoments(const float* __restrict x, int64_t begin, int64_t end,
                                  int64_t channels, const float* __restrict origin,
                                  double* __restrict sum1, double* __restrict sum2) {
  std::vector<float> block1(channels), block2(channels);
  for (int64_t first = begin; first < end; first += kRowsPerBlock) {
    std::fill(block1.begin(), block1.end(), 0.0f);
    std::fill(block2.begin(), block2.end(), 0.0f);
    const int64_t last = std::min(end, first + kRowsPerBlock);
    for (int64_t row = first; row < last; ++row) {
      const float* values = x + row * channels;
      for (int64_t c = 0; c < channels; ++c) {
        const float d = values[c] - origin[c];
        block1[c] += d;
        block2[c] += d * d;
      }
    }
    for (int64_t c = 0; c < channels; ++c) {
      sum1[c] += block1[c];
      sum2[c] += block2[c];
    }
  }
}

// z = max(0, x * scale + shift [+ residual]) over rows [begin, end); `residual` may be null.
MC_ROW_KERNEL void NormalizeAddClamp(const float* __restrict x, const float* __restrict residual,
                                     float* __restrict z, int64_t begin, int64_t end,
                                     int64_t channels, const float* __restrict scale,
                                     const float* __restrict shift) {
  for (int64_t row = begin; row < end; ++row) {
    const int64_t offset = row * channels;
    if (residual == nullptr) {
      for (int64_t c = 0; c < channels; ++c) {
        z[offset + c] = std::max(x[offset + c] * scale[c] + shift[c], 0.0f);
      }
    } else {
      for (int64_t c = 0; c < channels; ++c) {
        z[offset + c] =
            std::max(x[offset + c] * scale[c] + shift[c] + residual[offset + c], 0.0f);
      }
    }
  }
}

// With dy = dz where z > 0, else 0: sum_dy[c] += sum(dy), sum_dy_xc[c] += sum(dy * (x - mean)).
MC_ROW_KERNEL void GradientMoments(const float* __restrict dz, const float* __restrict z,
                                   const float* __restrict x, int64_t begin, int64_t end,
                                   int64_t channels, const float* __restrict mean,
                                   double* __restrict sum_dy, double* __restrict sum_dy_xc) {
  std::vector<float> block_dy(channels), block_dy_xc(channels);
  for (int64_t first = begin; first < end; first += kRowsPerBlock) {
    std::fill(block_dy.begin(), block_dy.end(), 0.0f);
    std::fill(block_dy_xc.begin(), block_dy_xc.end(), 0.0f);
    const int64_t last = std::min(end, first + kRowsPerBlock);
    for (int64_t row = first; row < last; ++row) {
      const int64_t offset = row * channels;
      for (int64_t c = 0; c < channels; ++c) {
        const float dy = z[offset + c] > 0.0f ? dz[offset + c] : 0.0f;
        block_dy[c] += dy;
        block_dy_xc[c] += dy * (x[offset + c] - mean[c]);
      }
    }
    for (int64_t c = 0; c < channels; ++c) {
      sum_dy[c] += block_dy[c];
      sum_dy_xc[c] += block_dy_xc[c];
    }
  }
}

// dx = k_dy * dy + k_x * (x - mean) + k_1 and, when `dresidual` is not null, dresidual = dy.
MC_ROW_KERNEL void InputGradient(const float* __restrict dz, const float* __restrict z,
                                 const float* __restrict x, float* __restrict dx,
                                 float* __restrict dresidual, int64_t begin, int64_t end,
                                 int64_t channels, const float* __restrict mean,
                                 const float* __restrict k_dy, const float* __restrict k_x,
                                 const float* __restrict k_1) {
  for (int64_t row = begin; row < end; ++row) {
    const int64_t offset = row * channels;
    for (int64_t c = 0; c < channels; ++c) {
      const float dy = z[offset + c] > 0.0f ? dz[offset + c] : 0.0f;
      dx[offset + c] = k_dy[c] * dy + k_x[c] * (x[offset + c] - mean[c]) + k_1[c];
    }
    if (dresidual == nullptr) continue;
    for (int64_t c = 0; c < channels; ++c) {
      dresidual[offset + c] = z[offset + c] > 0.0f ? dz[offset + c] : 0.0f;
    }
  }
}

// One contiguous chunk of rows per intra-op thread: the split, and so every sum, depends on
// the thread count only.
int64_t ChunkCount(int64_t rows) {
  return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), rows));
}

template <typename ChunkFn>
void ForEachChunk(int64_t rows, ChunkFn&& chunk_fn) {
  const int64_t chunks = ChunkCount(rows);
  at::parallel_for(0, chunks, 1, [&](int64_t first_chunk, int64_t last_chunk) {
    for (int64_t chunk = first_chunk; chunk < last_chunk; ++chunk) {
      chunk_fn(chunk, rows * chunk / chunks, rows * (chunk + 1) / chunks);
    }
  });
}

// Per-channel sums of two row quantities: each chunk sums into its own row of a
// [chunks, 2, channels] double tensor, added up in a fixed order afterwards.
template <typename SumFn>
at::Tensor ChannelSums(int64_t rows, int64_t channels, SumFn&& sum_fn) {
  at::Tensor partial = at::zeros({ChunkCount(rows), 2, channels}, at::kDouble);
  double* sums = partial.data_ptr<double>();
  ForEachChunk(rows, [&](int64_t chunk, int64_t begin, int64_t end) {
    double* first = sums + chunk * 2 * channels;
    sum_fn(begin, end, first, first + channels);
  });
  return partial.sum(0);  // [2, channels]
}

// Per-channel mean and (biased) variance of a batch, in double.
struct BatchMoments {
  at::Tensor mean;
  at::Tensor var;
};

BatchMoments ComputeBatchMoments(const float* x, int64_t rows, int64_t channels) {
  const at::Tensor origin = at::empty({channels}, at::kFloat);
  std::copy(x, x + channels, origin.data_ptr<float>());
  const at::Tensor sums = ChannelSums(rows, channels, [&](int64_t begin, int64_t end,
                                                          double* sum1, double* sum2) {
    ShiftedMoments(x, begin, end, channels, origin.data_ptr<float>(), sum1, sum2);
  });
  const at::Tensor shifted_mean = sums[0] / rows;
  return {shifted_mean + origin.to(at::kDouble),
          (sums[1] / rows - shifted_mean * shifted_mean).clamp_min(0)};
}

// BatchNorm's running averages, the variance unbiased.
void UpdateRunningStatistics(const BatchMoments& moments, int64_t rows, double momentum,
                             at::Tensor& running_mean, at::Tensor& running_var) {
  const double unbiased = static_cast<double>(rows) / static_cast<double>(rows - 1);
  running_mean.mul_(1 - momentum).add_(moments.mean.to(at::kFloat), momentum);
  running_var.mul_(1 - momentum).add_(moments.var.to(at::kFloat) * unbiased, momentum);
}

class BatchNormReLUFunction : public torch::autograd::Function<BatchNormReLUFunction> {
 public:
  // `residual` is empty when there is none (autograd functions take no undefined inputs).
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& residual,
                            const at::Tensor& weight, const at::Tensor& bias,
                            at::Tensor running_mean, at::Tensor running_var, double momentum,
                            double eps) {
    const int64_t channels = x.size(1);
    const int64_t rows = x.numel() / channels;
    const float* x_data = x.data_ptr<float>();
    const BatchMoments moments = ComputeBatchMoments(x_data, rows, channels);
    const at::Tensor mean = moments.mean.to(at::kFloat);
    const at::Tensor invstd = (moments.var + eps).rsqrt().to(at::kFloat);
    UpdateRunningStatistics(moments, rows, momentum, running_mean, running_var);

    const at::Tensor scale = (weight * invstd).contiguous();
    const at::Tensor shift = (bias - mean * scale).contiguous();
    at::Tensor z = at::empty_like(x);
    const bool has_residual = residual.numel() > 0;
    const float* residual_data = has_residual ? residual.data_ptr<float>() : nullptr;
    ForEachChunk(rows, [&](int64_t, int64_t begin, int64_t end) {
      NormalizeAddClamp(x_data, residual_data, z.data_ptr<float>(), begin, end, channels,
                        scale.data_ptr<float>(), shift.data_ptr<float>());
    });
    ctx->save_for_backward({x, z, weight, mean, invstd});
    ctx->saved_data["has_residual"] = has_residual;
    return z;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const tensor_list saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& z = saved[1];
    const at::Tensor& weight = saved[2];
    const at::Tensor& mean = saved[3];
    const at::Tensor& invstd = saved[4];
    const at::Tensor dz = grad_outputs[0].contiguous(at::MemoryFormat::ChannelsLast);
    const int64_t channels = x.size(1);
    const int64_t rows = x.numel() / channels;
    const float* dz_data = dz.data_ptr<float>();
    const float* z_data = z.data_ptr<float>();
    const float* x_data = x.data_ptr<float>();

    const at::Tensor sums = ChannelSums(rows, channels, [&](int64_t begin, int64_t end,
                                                            double* sum_dy, double* sum_dy_xc) {
      GradientMoments(dz_data, z_data, x_data, begin, end, channels, mean.data_ptr<float>(),
                      sum_dy, sum_dy_xc);
    });
    const at::Tensor sum_dy = sums[0].to(at::kFloat);
    const at::Tensor sum_dy_xc = sums[1].to(at::kFloat);
    // dx = weight * invstd * (dy - mean(dy) - (x - mean) * invstd^2 * mean(dy * (x - mean))).
    const at::Tensor k_dy = (weight * invstd).contiguous();
    const at::Tensor slope = sum_dy_xc * invstd * invstd / rows;
    const at::Tensor k_x = (-k_dy * slope).contiguous();
    const at::Tensor k_1 = (-k_dy * sum_dy / rows).contiguous();

    at::Tensor dx = at::empty_like(x);
    const bool has_residual = ctx->saved_data["has_residual"].toBool();
    at::Tensor dresidual = has_residual ? at::empty_like(x) : at::Tensor();
    float* dresidual_data = has_residual ? dresidual.data_ptr<float>() : nullptr;
    ForEachChunk(rows, [&](int64_t, int64_t begin, int64_t end) {
      InputGradient(dz_data, z_data, x_data, dx.data_ptr<float>(), dresidual_data, begin, end,
                    channels, mean.data_ptr<float>(), k_dy.data_ptr<float>(), k_x.data_ptr<float>(),
                    k_1.data_ptr<float>());
    });
    const at::Tensor dweight = sum_dy_xc * invstd;
    return {dx, dresidual, dweight, sum_dy, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

bool IsChannelsLastFloat(const at::Tensor& tensor) {
  return tensor.device().is_cpu() && tensor.scalar_type() == at::kFloat && tensor.dim() == 4 &&
         tensor.is_contiguous(at::MemoryFormat::ChannelsLast);
}

bool CanFuse(const torch::nn::BatchNorm2dImpl& bn, const at::Tensor& x,
             const at::Tensor& residual) {
  return bn.is_training() && bn.options.affine() && bn.options.track_running_stats() &&
         IsChannelsLastFloat(x) && x.numel() > x.size(1) &&
         bn.weight.scalar_type() == at::kFloat && bn.running_mean.scalar_type() == at::kFloat &&
         (!residual.defined() || (IsChannelsLastFloat(residual) && residual.sizes() == x.sizes()));
}

// The running averages' weight of this batch, as BatchNorm's forward takes it (counting the
// batch first).
double NextMomentum(torch::nn::BatchNorm2dImpl& bn) {
  bn.num_batches_tracked += 1;
  if (bn.options.momentum().has_value()) return *bn.options.momentum();
  return 1.0 / bn.num_batches_tracked.item<double>();
}

}  // namespace

at::Tensor BatchNormReLU(torch::nn::BatchNorm2dImpl& bn, const at::Tensor& x,
                         const at::Tensor& residual) {
  if (!CanFuse(bn, x, residual)) {
    at::Tensor out = bn.forward(x);  // not kept for the backward pass: safe to overwrite
    if (residual.defined()) out.add_(residual);
    return out.relu_();
  }
  const double momentum = NextMomentum(bn);
  return BatchNormReLUFunction::apply(x, residual.defined() ? residual : x.new_empty({0}), bn.weight, bn.bias, bn.running_mean,
                                      bn.running_var, momentum, bn.options.eps());
}

}  // namespace mc::nn_models
