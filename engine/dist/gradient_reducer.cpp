#include "engine/dist/gradient_reducer.hpp"

#include <algorithm>
#include <numeric>

namespace loom {

GradientReducer::GradientReducer(Communicator& communicator, std::vector<int64_t> elements)
    : communicator_(communicator),
      elements_(std::move(elements)),
      buffer_(size_t(std::accumulate(elements_.begin(), elements_.end(), int64_t(0)) + 2)) {}

GradientReducer::Totals GradientReducer::reduce(std::span<float* const> gradients, int64_t local,
                                                int64_t global, double local_loss_sum, bool stop) {
  const float share = float(double(local) / double(global));
  float* out = buffer_.data();
  for (size_t p = 0; p < elements_.size(); ++p) {
    const float* gradient = gradients[p];
    const int64_t count = elements_[p];
    if (local == 0) {
      std::fill(out, out + count, 0.f);
    } else {
#pragma omp simd
      for (int64_t i = 0; i < count; ++i) out[i] = gradient[i] * share;
    }
    out += count;
  }
  out[0] = float(local_loss_sum);
  out[1] = stop ? 1.f : 0.f;
  communicator_.sum(buffer_);
  const float* in = buffer_.data();
  for (size_t p = 0; p < elements_.size(); ++p) {
    std::copy(in, in + elements_[p], gradients[p]);
    in += elements_[p];
  }
  return {double(in[0]), in[1] > 0.f};
}

}  // namespace loom
