#pragma once
// Data-parallel gradient averaging over the ranks.
//
// Each rank computes the mean gradient of its shard of the global batch. Weighted by the
// shard's share of the batch (local / global) and summed over the ranks, these give exactly
// the mean gradient of the whole batch, however unevenly a last partial batch splits (a rank
// with no samples adds zeros). The gradients travel in one fused buffer, allocated once, cut
// into buckets; two more slots ride in the last bucket: the batch's loss sum, so every rank
// sees the global loss (and takes the same skip / stop decision on a non-finite one), and a
// stop flag, so an interrupt on any rank stops every rank at the same step.
//
// Two modes ($LOOM_ALLREDUCE):
//   fused       one bucket, one MPI_Allreduce after the backward pass (the default);
//   overlapped  buckets of about 64 KiB in the order the backward pass finishes gradients;
//               each bucket's MPI_Iallreduce starts from a plan hook right after the node
//               that writes its last gradient, so sending overlaps the rest of the backward
//               pass, and is waited for before the optimizer.

#include <cstdint>
#include <span>
#include <vector>

#include "engine/dist/communicator.hpp"
#include "engine/exec/plan.hpp"

namespace loom {

enum class AllreduceMode { fused, overlapped };

// $LOOM_ALLREDUCE: unset or "fused", or "overlapped"; anything else is an InputError.
AllreduceMode allreduce_mode_from_environment();

class GradientReducer {
 public:
  // `elements[p]`: the size of parameter p's gradient (the optimizer's order); `writers[p]`:
  // the node of the training plan that writes it last, which orders the buckets.
  GradientReducer(Communicator& communicator, std::vector<int64_t> elements,
                  const std::vector<size_t>& writers, AllreduceMode mode);

  // Overlapped mode: hooks `plan` (whose gradient buffers are `gradients` and whose last
  // writers are `writers`) to start each bucket as soon as it is complete. A plan for another
  // batch size has the same nodes, so the same buckets.
  void attach(Plan& plan, const std::vector<size_t>& writers, std::vector<float*> gradients);

  struct Totals {
    double loss_sum = 0;  // Σ over the global batch of the per-sample loss
    bool stop = false;    // some rank asked to stop
  };
  // Around one step: begin_step() before the plan runs (`loss`: its loss value, read once the
  // forward pass is done; unused when local == 0), finish_step() after, which starts what the
  // hooks did not (everything in fused mode, or when this rank ran no plan), waits, and writes
  // the global mean gradients into `gradients`.
  void begin_step(int64_t local, int64_t global, bool stop, const float* loss);
  Totals finish_step(std::span<float* const> gradients);

  // Both at once, for a plan that has already run (or none, local == 0).
  Totals reduce(std::span<float* const> gradients, int64_t local, int64_t global,
                double local_loss_sum, bool stop);

  size_t buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<size_t> parameters;  // in the order of the buffer
    int64_t offset = 0;              // into the buffer
    int64_t size = 0;                // elements, with the two extra slots in the last bucket
  };
  void start_bucket(size_t b, std::span<float* const> gradients);

  Communicator& communicator_;
  std::vector<int64_t> elements_;
  std::vector<int64_t> offsets_;  // of each parameter in the buffer
  std::vector<Bucket> buckets_;
  std::vector<float> buffer_;
  // The step in flight.
  bool armed_ = false;
  size_t started_ = 0;  // buckets started, in order
  int64_t local_ = 0;
  float share_ = 0;
  bool stop_ = false;
  const float* loss_ = nullptr;
  float given_loss_sum_ = 0;
};

}  // namespace loom
