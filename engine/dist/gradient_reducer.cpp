#include "engine/dist/gradient_reducer.hpp"

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <string_view>

#include "engine/core/error.hpp"

namespace loom {

namespace {

// Big enough that a message's fixed cost stays small, small enough that the first buckets
// are ready well before the backward pass ends.
constexpr int64_t kBucketElements = 16 * 1024;  // 64 KiB of f32

}  // namespace

AllreduceMode allreduce_mode_from_environment() {
  const char* value = std::getenv("LOOM_ALLREDUCE");
  if (value == nullptr || std::string_view(value) == "fused") return AllreduceMode::fused;
  if (std::string_view(value) == "overlapped") return AllreduceMode::overlapped;
  throw InputError("LOOM_ALLREDUCE: expected 'fused' or 'overlapped', got '" + std::string(value) +
                   "'");
}

GradientReducer::GradientReducer(Communicator& communicator, std::vector<int64_t> elements,
                                 const std::vector<size_t>& writers, AllreduceMode mode)
    : communicator_(communicator), elements_(std::move(elements)) {
  // Parameters in the order their gradients are finished; those one node writes together
  // (a kernel and its bias) stay in one bucket.
  std::vector<size_t> order(elements_.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::ranges::stable_sort(order, [&](size_t a, size_t b) { return writers[a] < writers[b]; });
  buckets_.emplace_back();
  for (size_t i = 0; i < order.size(); ++i) {
    Bucket& bucket = buckets_.back();
    bucket.parameters.push_back(order[i]);
    bucket.size += elements_[order[i]];
    const bool node_done = i + 1 == order.size() || writers[order[i + 1]] != writers[order[i]];
    if (mode == AllreduceMode::overlapped && node_done && bucket.size >= kBucketElements &&
        i + 1 < order.size()) {
      buckets_.emplace_back();
    }
  }
  buckets_.back().size += 2;  // the loss sum and the stop flag
  offsets_.resize(elements_.size());
  int64_t offset = 0;
  for (Bucket& bucket : buckets_) {
    bucket.offset = offset;
    for (size_t p : bucket.parameters) {
      offsets_[p] = offset;
      offset += elements_[p];
    }
    offset = bucket.offset + bucket.size;
  }
  buffer_.assign(size_t(offset), 0.f);
}

void GradientReducer::attach(Plan& plan, const std::vector<size_t>& writers,
                             std::vector<float*> gradients) {
  if (buckets_.size() == 1) return;  // fused: everything goes after the backward pass
  for (size_t b = 0; b < buckets_.size(); ++b) {
    size_t last = 0;
    for (size_t p : buckets_[b].parameters) last = std::max(last, writers[p]);
    plan.after_node(last, [this, b, gradients] {
      if (armed_) start_bucket(b, gradients);
    });
  }
}

void GradientReducer::begin_step(int64_t local, int64_t global, bool stop, const float* loss) {
  armed_ = true;
  started_ = 0;
  local_ = local;
  share_ = float(double(local) / double(global));
  stop_ = stop;
  loss_ = loss;
}

// Copies bucket b's gradients, weighted by this rank's share, into the buffer and starts its
// sum. Buckets start in order: a hook that finds earlier ones unstarted starts them first.
void GradientReducer::start_bucket(size_t b, std::span<float* const> gradients) {
  for (; started_ <= b; ++started_) {
    const Bucket& bucket = buckets_[started_];
    for (size_t p : bucket.parameters) {
      float* out = buffer_.data() + offsets_[p];
      if (local_ == 0) {
        std::fill(out, out + elements_[p], 0.f);
        continue;
      }
      const float* gradient = gradients[p];
      const float share = share_;
#pragma omp simd
      for (int64_t i = 0; i < elements_[p]; ++i) out[i] = gradient[i] * share;
    }
    if (started_ + 1 == buckets_.size()) {
      float* extra = buffer_.data() + bucket.offset + bucket.size - 2;
      extra[0] = local_ > 0 ? *loss_ * float(local_) : 0.f;
      extra[1] = stop_ ? 1.f : 0.f;
    }
    communicator_.start_sum(std::span<float>(buffer_.data() + bucket.offset, size_t(bucket.size)));
  }
  communicator_.progress();
}

GradientReducer::Totals GradientReducer::finish_step(std::span<float* const> gradients) {
  start_bucket(buckets_.size() - 1, gradients);
  communicator_.finish_sums();
  armed_ = false;
  for (size_t p = 0; p < elements_.size(); ++p) {
    const float* in = buffer_.data() + offsets_[p];
    std::copy(in, in + elements_[p], gradients[p]);
  }
  const float* extra = buffer_.data() + buffer_.size() - 2;
  return {double(extra[0]), extra[1] > 0.f};
}

GradientReducer::Totals GradientReducer::reduce(std::span<float* const> gradients, int64_t local,
                                                int64_t global, double local_loss_sum, bool stop) {
  given_loss_sum_ = local > 0 ? float(local_loss_sum / double(local)) : 0.f;
  begin_step(local, global, stop, &given_loss_sum_);
  return finish_step(gradients);
}

}  // namespace loom
