#pragma once
// Data-parallel gradient averaging: one MPI_Allreduce per step over one fused buffer.
//
// Each rank computes the mean gradient of its shard of the global batch. Weighted by the
// shard's share of the batch (local / global) and summed over the ranks, these give exactly
// the mean gradient of the whole batch, however unevenly a last partial batch splits (a rank
// with no samples adds zeros). Two more slots ride along in the same message: the batch's
// loss sum, so every rank sees the global loss (and takes the same skip / stop decision on a
// non-finite one), and a stop flag, so an interrupt on any rank stops every rank at the same
// step. The buffer is allocated once; a step copies gradients in and out (memory-bound, a few
// hundred microseconds for the book model) and sends one message.

#include <cstdint>
#include <span>
#include <vector>

#include "engine/dist/communicator.hpp"

namespace loom {

class GradientReducer {
 public:
  // `elements`: the size of each parameter's gradient, in the optimizer's order.
  GradientReducer(Communicator& communicator, std::vector<int64_t> elements);

  struct Totals {
    double loss_sum = 0;  // Σ over the global batch of the per-sample loss
    bool stop = false;    // some rank asked to stop
  };
  // Replaces `gradients` (the local shard's means, or anything when local == 0) by the
  // global batch's mean gradients, on every rank.
  Totals reduce(std::span<float* const> gradients, int64_t local, int64_t global,
                double local_loss_sum, bool stop);

 private:
  Communicator& communicator_;
  std::vector<int64_t> elements_;
  std::vector<float> buffer_;
};

}  // namespace loom
