#pragma once
// Observers of the training step, as Caffe's Solver::Callback: the one step path calls them
// before the plan runs and when the gradients are ready, before the optimizer reads them.
// Data-parallel averaging is such a hook (data_parallel_averaging.hpp); with one process
// there is none.

#include <cstdint>
#include <span>
#include <string>

#include "engine/exec/parameter_store.hpp"
#include "engine/train/session.hpp"

namespace loom {

// One step as the hooks see it.
struct StepContext {
  BoundPlan* plan = nullptr;
  int64_t local = 0;   // samples this process runs (0: its share of a last batch is empty)
  int64_t global = 0;  // samples in the whole batch
  // The batch's loss summed over its samples; a hook may replace it with the global sum.
  double loss_sum = 0;
  // In: this process was asked to stop. A hook that shares the decision replaces it.
  bool stop = false;
  // Set by a hook whose gradients and loss are combined from several processes: a
  // non-finite value can then not be traced to a node of this process's plan.
  bool combined = false;
  std::string culprit;  // checking mode: the first node whose output was not finite
};

class StepHook {
 public:
  virtual ~StepHook() = default;
  // A training plan was compiled (before any step runs it).
  virtual void on_plan_compiled(BoundPlan& /*plan*/) {}
  // Before the plan runs (it runs only when context.local > 0).
  virtual void on_step_start(StepContext& /*context*/) {}
  // After the plan ran: the gradients are in the plan's buffers.
  virtual void on_gradients_ready(StepContext& /*context*/) {}
  // Whether training stops before the next step, given that `requested` says so for this
  // process; a hook that makes processes agree answers with their agreement.
  virtual bool stops(bool requested) const { return requested; }
  // Before an evaluation or a checkpoint reads the weights (every process at once).
  virtual void before_weights_are_read(ParameterStore& /*parameters*/) {}
};

}  // namespace loom
