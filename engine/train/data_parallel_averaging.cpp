#include "engine/train/data_parallel_averaging.hpp"

#include <algorithm>

namespace loom {

DataParallelAveraging::DataParallelAveraging(Communicator& communicator,
                                             std::vector<std::string> trainable,
                                             std::vector<int64_t> elements,
                                             const std::vector<size_t>& writers)
    : communicator_(communicator),
      trainable_(std::move(trainable)),
      reducer_(communicator, std::move(elements), writers, allreduce_mode_from_environment()) {}

// A plan for another batch size has the same nodes, so the same buckets.
void DataParallelAveraging::on_plan_compiled(BoundPlan& plan) {
  reducer_.attach(*plan.plan, plan.gradient_writers, plan.gradients);
}

// In overlapped mode, the plan's hooks send buckets as the backward pass goes.
void DataParallelAveraging::on_step_start(StepContext& context) {
  reducer_.begin_step(context.local, context.global, context.stop, context.plan->loss);
}

// A rank whose shard of a last partial batch is empty adds zeros, and updates with the others.
void DataParallelAveraging::on_gradients_ready(StepContext& context) {
  const GradientReducer::Totals totals = reducer_.finish_step(context.plan->gradients);
  context.loss_sum = totals.loss_sum;
  context.stop = totals.stop;
  context.combined = true;
  stop_agreed_ = totals.stop;
}

void DataParallelAveraging::before_weights_are_read(ParameterStore& parameters) {
  for (const auto& [name, shape] : parameters.shapes()) {
    if (std::ranges::find(trainable_, name) != trainable_.end()) continue;
    const std::span<float> values = parameters.at(name);
    communicator_.sum(values);
    for (float& value : values) value /= float(communicator_.size());
  }
}

}  // namespace loom
