#pragma once
// Batch normalization's per-channel sums, accumulated in double. oneDNN 2.6 sums a channel in
// float32 (43,264 values per channel for 64 images of 26×26), which leaves the batch mean about
// 1e-5 relative off when the activations share a large offset, as a biased convolution's do,
// and the backward pass's Σdy and Σdy·x̂ off too; the convolution before the batch norm then
// gets an update percents wrong. These loops read x (and dy) in the layout it is held in:
//   forward:  the mean and biased variance from Σ(x - shift) and Σ(x - shift)², one pass, with
//             the channel's first value as the shift (so the two sums do not cancel);
//   backward: one pass for Σdy, Σdy·(x - mean) and Σ(x - mean) (the mean arrives rounded to
//             float; the last sum recovers the exact one, about which dx sums to zero), then
//             dbeta = Σdy, dgamma = Σdy·x̂ and, in a second pass,
//             dx = gamma/sqrt(var + eps)·(dy - mean(dy) - x̂·mean(dy·x̂)).
// The work is cut into fixed blocks (a run of positions of one group of channels) whose partial
// sums are added in block order, so the results do not depend on the thread count.

#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>

#include "engine/core/aligned_buffer.hpp"

namespace loom {

class BatchStatistics {
 public:
  // Whether the loops can walk x held as `desc` (dims [N, C] or oneDNN's (N, C, H, W)): the
  // channels must be its innermost axis (channels last) or its one inner block (nChw16c).
  static bool supports(const dnnl::memory::desc& desc);

  // Sizes the partial sums for x held as `desc` (which `supports`): the only allocation.
  explicit BatchStatistics(const dnnl::memory::desc& desc);

  void forward(const float* x, float* mean, float* variance);
  // mean and variance as forward() wrote them, or the moving statistics (`moving_statistics`:
  // an inference graph's, constants, so dx = gamma·dy/sqrt(variance + epsilon)); dx is written
  // in x's layout (a blocked format's padding channels get zeros).
  void backward(const float* dy, const float* x, const float* gamma, const float* mean,
                const float* variance, float epsilon, bool moving_statistics, float* dx,
                float* dgamma, float* dbeta);

 private:
  // A block: `count` positions of one group of channels, from `offset`.
  struct Block {
    int64_t offset, count, group;
  };
  Block block(int64_t b) const;
  int64_t lanes(int64_t group) const;  // real channels in a group
  // Per channel, each of the three block partials summed in block order, into
  // sums[k·groups·lanes + channel].
  void combine(double* sums) const;

  int64_t channels_ = 0;
  int64_t group_lanes_ = 0;  // channels side by side: the block size, or 16 when channels last
  int64_t groups_ = 0;
  int64_t group_stride_ = 0;  // elements between groups
  int64_t positions_ = 0;     // N·H·W
  // Positions run along the innermost evenly strided run (inner_count_ positions
  // position_stride_ apart), repeated along up to two outer (count, stride) levels.
  int64_t inner_count_ = 0;
  int64_t position_stride_ = 0;
  int64_t outer_counts_[2] = {1, 1};
  int64_t outer_strides_[2] = {0, 0};
  int64_t chunks_ = 0;  // blocks along the inner run
  int64_t blocks_ = 0;
  int64_t offset0_ = 0;
  bool padded_ = false;  // a blocked format whose last group has padding channels
  // Per block, 3 sums of group_lanes_ doubles.
  AlignedBuffer partials_;
  // 7 arrays of groups_·group_lanes_ doubles: the centre, 3 sums, 3 coefficients of dx.
  AlignedBuffer per_channel_;
};

}  // namespace loom
