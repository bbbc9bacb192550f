#include "ops/batch_statistics.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/core/parallel.hpp"
#include "engine/exec/layout.hpp"

namespace loom {

namespace {

// Channels side by side in one group when they are the innermost axis: a group's three sums
// of 16 doubles are six AVX-512 registers.
constexpr int64_t kMaxLanes = 16;
// Positions per block: 1,024 positions of 16 channels are 64 KB of x, enough to amortize a
// block's start and few enough that even one image's channel group makes a block.
constexpr int64_t kChunk = 1024;

// The per-channel arrays (groups·lanes doubles each) kept in per_channel_.
enum Array { kCentre, kFirst, kSecond, kThird, kScale, kSlope, kOffset, kArrays };
constexpr int64_t kSums = 3;  // per lane and block

// Calls f(lane) for every lane of a group, vectorized. With the lane count fixed the loop is
// unrolled, so that per-lane arrays become registers: GCC keeps an `omp simd` loop's per-lane
// sums in memory, a store and a reload at every position.
template <int64_t kLanes, typename F>
inline void for_lanes(int64_t lanes, const F& f) {
  if constexpr (kLanes > 0) {
#pragma GCC unroll 16
    for (int64_t l = 0; l < kLanes; ++l) f(l);
  } else {
#pragma omp simd
    for (int64_t l = 0; l < lanes; ++l) f(l);
  }
}

// Per lane over `count` positions `stride` apart: term(a, b, centre, sums) adds to the lane's
// three sums. kLanes > 0 fixes the lane count at compile time (a full group, the common case);
// sum k goes to out[k·group_lanes + lane].
template <int64_t kLanes, typename Term>
void sum_block(const float* a, const float* b, int64_t count, int64_t stride, int64_t lanes,
               const double* centre, double* out, int64_t group_lanes, const Term& term) {
  double first[kMaxLanes] = {}, second[kMaxLanes] = {}, third[kMaxLanes] = {}, c[kMaxLanes];
  const int64_t n = kLanes > 0 ? kLanes : lanes;
  std::copy(centre, centre + n, c);
  for (int64_t i = 0; i < count; ++i) {
    const float* pa = a + i * stride;
    const float* pb = b + i * stride;
    for_lanes<kLanes>(n,
                      [&](int64_t l) { term(pa[l], pb[l], c[l], first[l], second[l], third[l]); });
  }
  std::copy(first, first + n, out);
  std::copy(second, second + n, out + group_lanes);
  std::copy(third, third + n, out + 2 * group_lanes);
}

// Calls f(lanes) with the lane count as a compile-time constant: kMaxLanes for a full group
// (the common, unrolled case), 0 (counted at run time) for a partial one.
template <typename F>
void with_lane_count(int64_t lanes, const F& f) {
  if (lanes == kMaxLanes) {
    f(std::integral_constant<int64_t, kMaxLanes>{});
  } else {
    f(std::integral_constant<int64_t, 0>{});
  }
}

struct Coefficients {
  const double *scale, *slope, *centre, *offset;
};

// dx = scale·dy + slope·(x - centre) + offset per lane over `count` positions `stride` apart. The
// lanes from `lanes` to `written`, a blocked format's padding channels, get zeros for whoever
// reads dx next.
template <int64_t kLanes>
void apply_block(const float* dy, const float* x, float* dx, int64_t count, int64_t stride,
                 int64_t lanes, int64_t written, const Coefficients& c) {
  double scale[kMaxLanes], slope[kMaxLanes], centre[kMaxLanes], offset[kMaxLanes];
  const int64_t n = kLanes > 0 ? kLanes : lanes;
  std::copy(c.scale, c.scale + n, scale);
  std::copy(c.slope, c.slope + n, slope);
  std::copy(c.centre, c.centre + n, centre);
  std::copy(c.offset, c.offset + n, offset);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t at = i * stride;
#pragma omp simd
    for (int64_t l = 0; l < n; ++l) {
      dx[at + l] = float(scale[l] * double(dy[at + l]) +
                         slope[l] * (double(x[at + l]) - centre[l]) + offset[l]);
    }
    std::fill(dx + at + n, dx + at + written, 0.f);
  }
}

// Walks the blocks with `first`, runs `between` once, then walks them again backwards with
// `second`, in one parallel region when x is large enough to pay for waking the threads (see
// engine/core/parallel.hpp). Each block writes only its own partial sums or its own part of dx,
// and `between` (on one thread) reads what every `first` wrote. A thread gets the same
// contiguous share of the blocks in both walks, and the blocks it summed last are still in its
// cache when it turns back.
template <typename First, typename Between, typename Second>
void walk_blocks(int64_t blocks, bool parallel, const First& first, const Between& between,
                 const Second& second) {
  if (!parallel) {
    for (int64_t b = 0; b < blocks; ++b) first(b);
    between();
    for (int64_t b = blocks; b-- > 0;) second(b);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int64_t begin = blocks * thread / threads, end = blocks * (thread + 1) / threads;
    for (int64_t b = begin; b < end; ++b) first(b);
#pragma omp barrier
#pragma omp single
    between();
    for (int64_t b = end; b-- > begin;) second(b);
  }
}

}  // namespace

bool BatchStatistics::supports(const dnnl::memory::desc& desc) {
  const dnnl_blocking_desc_t& blocking = desc.data.format_desc.blocking;
  return channels_contiguous(desc) &&
         (blocking.inner_nblks == 0 || blocking.inner_blks[0] <= kMaxLanes);
}

BatchStatistics::BatchStatistics(const dnnl::memory::desc& desc) {
  const dnnl_memory_desc_t& d = desc.data;
  const dnnl_blocking_desc_t& blocking = d.format_desc.blocking;
  channels_ = d.dims[1];
  offset0_ = d.offset0;
  if (blocking.inner_nblks == 1) {
    group_lanes_ = blocking.inner_blks[0];
    groups_ = d.padded_dims[1] / group_lanes_;
    group_stride_ = blocking.strides[1];
    padded_ = d.padded_dims[1] != channels_;
  } else {
    group_lanes_ = std::min(channels_, kMaxLanes);
    groups_ = (channels_ + kMaxLanes - 1) / kMaxLanes;
    group_stride_ = kMaxLanes;
  }
  // Positions: N, then H and W, merged where one steps evenly into the next (every position
  // of channels-last x is one run; nChw16c has one run per image).
  std::vector<std::pair<int64_t, int64_t>> levels;  // (count, stride), outermost first
  for (int axis : d.ndims == 4 ? std::vector<int>{0, 2, 3} : std::vector<int>{0}) {
    const int64_t count = d.dims[axis], stride = blocking.strides[axis];
    if (count == 1) continue;
    if (!levels.empty() && levels.back().second == count * stride) {
      levels.back() = {levels.back().first * count, stride};
    } else {
      levels.emplace_back(count, stride);
    }
  }
  if (levels.empty()) levels.emplace_back(1, 0);
  std::tie(inner_count_, position_stride_) = levels.back();
  levels.pop_back();
  for (size_t k = 0; k < levels.size(); ++k) {
    outer_counts_[k + 2 - levels.size()] = levels[k].first;
    outer_strides_[k + 2 - levels.size()] = levels[k].second;
  }
  positions_ = inner_count_ * outer_counts_[0] * outer_counts_[1];
  chunks_ = (inner_count_ + kChunk - 1) / kChunk;
  blocks_ = outer_counts_[0] * outer_counts_[1] * chunks_ * groups_;
  partials_ = AlignedBuffer(size_t(blocks_ * kSums * group_lanes_) * sizeof(double));
  per_channel_ = AlignedBuffer(size_t(kArrays * groups_ * group_lanes_) * sizeof(double));
}

// Blocks run groups fastest, so the blocks a thread gets cover the same positions of every
// group (channels-last rows are read once into the cache).
BatchStatistics::Block BatchStatistics::block(int64_t b) const {
  const int64_t group = b % groups_;
  const int64_t chunk = b / groups_ % chunks_;
  const int64_t outer = b / groups_ / chunks_;
  const int64_t offset =
      offset0_ + group * group_stride_ + outer / outer_counts_[1] * outer_strides_[0] +
      outer % outer_counts_[1] * outer_strides_[1] + chunk * kChunk * position_stride_;
  return {offset, std::min(kChunk, inner_count_ - chunk * kChunk), group};
}

int64_t BatchStatistics::lanes(int64_t group) const {
  return std::min(group_lanes_, channels_ - group * group_lanes_);
}

void BatchStatistics::combine(double* sums) const {
  const auto* partials = reinterpret_cast<const double*>(partials_.data());
  const int64_t stride = groups_ * group_lanes_;
  for (int64_t g = 0; g < groups_; ++g) {
    for (int64_t l = 0; l < lanes(g); ++l) {
      for (int64_t k = 0; k < kSums; ++k) {
        double sum = 0;
        for (int64_t b = g; b < blocks_; b += groups_) {
          sum += partials[(b * kSums + k) * group_lanes_ + l];
        }
        sums[k * stride + g * group_lanes_ + l] = sum;
      }
    }
  }
}

void BatchStatistics::forward(const float* x, float* mean, float* variance) {
  auto* arrays = reinterpret_cast<double*>(per_channel_.data());
  const int64_t stride = groups_ * group_lanes_;
  double* shift = arrays + kCentre * stride;
  for (int64_t c = 0; c < channels_; ++c) {
    shift[c] = x[offset0_ + c / group_lanes_ * group_stride_ + c % group_lanes_];
  }
  auto* partials = reinterpret_cast<double*>(partials_.data());
  const auto term = [](float v, float, double centre, double& first, double& second, double&) {
    const double d = double(v) - centre;
    first += d;
    second += d * d;
  };
  const auto sum = [&](int64_t b) {
    const Block k = block(b);
    const int64_t lanes_here = lanes(k.group);
    double* out = partials + b * kSums * group_lanes_;
    const double* centre = shift + k.group * group_lanes_;
    with_lane_count(lanes_here, [&](auto fixed) {
      sum_block<decltype(fixed)::value>(x + k.offset, x + k.offset, k.count, position_stride_,
                                        lanes_here, centre, out, group_lanes_, term);
    });
  };
  // Backwards: the blocks summed last, x's first ones, are still in the cache when oneDNN
  // normalizes from the start.
  walk_blocks(
      blocks_, positions_ * channels_ >= kParallelElements, [](int64_t) {}, [] {}, sum);
  combine(arrays + kFirst * stride);
  const double* first = arrays + kFirst * stride;
  const double* second = arrays + kSecond * stride;
  const double n = double(positions_);
  for (int64_t c = 0; c < channels_; ++c) {
    const double shifted_mean = first[c] / n;
    mean[c] = float(shift[c] + shifted_mean);
    variance[c] = float(std::max(0.0, second[c] / n - shifted_mean * shifted_mean));
  }
}

void BatchStatistics::backward(const float* dy, const float* x, const float* gamma,
                               const float* mean, const float* variance, float epsilon,
                               bool moving_statistics, float* dx, float* dgamma, float* dbeta) {
  auto* arrays = reinterpret_cast<double*>(per_channel_.data());
  const int64_t stride = groups_ * group_lanes_;
  double* centre = arrays + kCentre * stride;
  for (int64_t c = 0; c < channels_; ++c) centre[c] = mean[c];
  auto* partials = reinterpret_cast<double*>(partials_.data());
  // Σdy, Σdy·(x - mean) and Σ(x - mean), about the mean as forward() rounded it to float:
  // the third sum recovers the exact mean, about which dx then sums to zero.
  const auto term = [](float v, float d, double m, double& first, double& second, double& third) {
    first += double(d);
    second += double(d) * (double(v) - m);
    third += double(v) - m;
  };
  const auto sum = [&](int64_t b) {
    const Block k = block(b);
    const int64_t lanes_here = lanes(k.group);
    double* out = partials + b * kSums * group_lanes_;
    const double* m = centre + k.group * group_lanes_;
    with_lane_count(lanes_here, [&](auto fixed) {
      sum_block<decltype(fixed)::value>(x + k.offset, dy + k.offset, k.count, position_stride_,
                                        lanes_here, m, out, group_lanes_, term);
    });
  };
  // dx = scale·dy + slope·(x - mean) + offset, per channel.
  double* scale = arrays + kScale * stride;
  double* slope = arrays + kSlope * stride;
  double* offset = arrays + kOffset * stride;
  const auto finish = [&] {
    combine(arrays + kFirst * stride);
    const double* sum_dy = arrays + kFirst * stride;
    const double* sum_dy_centred = arrays + kSecond * stride;
    const double* sum_centred = arrays + kThird * stride;
    const double n = double(positions_);
    for (int64_t c = 0; c < channels_; ++c) {
      // exact mean - float mean; moving statistics are exact as given.
      const double correction = moving_statistics ? 0.0 : sum_centred[c] / n;
      centre[c] += correction;
      const double dy_centred = sum_dy_centred[c] - correction * sum_dy[c];
      const double inverse_deviation = 1 / std::sqrt(double(variance[c]) + double(epsilon));
      dbeta[c] = float(sum_dy[c]);
      dgamma[c] = float(dy_centred * inverse_deviation);
      scale[c] = double(gamma[c]) * inverse_deviation;
      // Batch statistics depend on x (dx carries their terms); moving ones are constants.
      slope[c] = moving_statistics
                     ? 0.0
                     : -scale[c] * inverse_deviation * inverse_deviation * dy_centred / n;
      offset[c] = moving_statistics ? 0.0 : -scale[c] * sum_dy[c] / n;
    }
  };
  const auto apply = [&](int64_t b) {
    const Block k = block(b);
    const int64_t lanes_here = lanes(k.group);
    const int64_t first = k.group * group_lanes_;
    const Coefficients coefficients{scale + first, slope + first, centre + first, offset + first};
    const int64_t written = padded_ ? group_lanes_ : lanes_here;
    with_lane_count(lanes_here, [&](auto fixed) {
      apply_block<decltype(fixed)::value>(dy + k.offset, x + k.offset, dx + k.offset, k.count,
                                          position_stride_, lanes_here, written, coefficients);
    });
  };
  walk_blocks(blocks_, positions_ * channels_ >= kParallelElements, sum, finish, apply);
}

}  // namespace loom
