#pragma once
// Data parallelism as a step hook: every rank runs its shard of each global batch; when the
// gradients are ready they are averaged over the ranks (GradientReducer: weighted by each
// shard's share, fused or bucketed and overlapped with the backward pass), with the batch's
// loss summed and the stop request agreed in the same message. Batch normalization's moving
// statistics, which follow each rank's own shards, are averaged before anything reads the
// weights, so every rank evaluates and saves the same model.

#include <optional>
#include <string>
#include <vector>

#include "engine/dist/communicator.hpp"
#include "engine/dist/gradient_reducer.hpp"
#include "engine/train/step_hook.hpp"

namespace loom {

class DataParallelAveraging : public StepHook {
 public:
  // `elements`: each trainable parameter's size (`trainable` order); `writers`: the node of
  // the full-batch training plan that writes each gradient last (it orders the buckets).
  DataParallelAveraging(Communicator& communicator, std::vector<std::string> trainable,
                        std::vector<int64_t> elements, const std::vector<size_t>& writers);

  void on_plan_compiled(BoundPlan& plan) override;
  void on_step_start(StepContext& context) override;
  void on_gradients_ready(StepContext& context) override;
  bool stops(bool /*requested*/) const override { return stop_agreed_; }
  void before_weights_are_read(ParameterStore& parameters) override;

 private:
  Communicator& communicator_;
  std::vector<std::string> trainable_;
  GradientReducer reducer_;
  bool stop_agreed_ = false;  // every rank stops before the next step
};

}  // namespace loom
