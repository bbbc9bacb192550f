// The one training step, for one process, for data parallelism and for the benchmark: the
// batch into the plan, the plan run, the hooks on the ready gradients (data-parallel
// averaging, under mpirun), the checks for non-finite values, the optimizer, the metrics.

#include <cmath>

#include "engine/core/parallel.hpp"
#include "engine/core/random.hpp"
#include "engine/train/trainer.hpp"

namespace loom {

namespace {

// Runs the plan node by node, checking every output: the first node that produced a
// non-finite value, or "" when every output was finite.
std::string run_to_first_nonfinite(Plan& plan) {
  const Graph& graph = plan.graph();
  for (size_t n = 0; n < graph.nodes().size(); ++n) {
    plan.run_node(n);
    const Node& node = graph.nodes()[n];
    const size_t outputs = node.outputs.size() - node.op->signature().auxiliary_outputs;
    for (size_t k = 0; k < outputs; ++k) {
      const Value& value = graph.value(node.outputs[k]);
      if (value.type.dtype == DType::f32 &&
          !all_finite(plan.f32(node.outputs[k]), value.type.numel())) {
        return "node '" + node.name + "' (" + std::string(node.op->name()) + ")";
      }
    }
  }
  return "";
}

}  // namespace

// This rank's plan: for its share of a full batch, or of the last one. A rank whose share of
// a last partial batch is empty runs nothing, and hands the full plan's buffers to the hooks.
BoundPlan& Trainer::plan_for(int64_t local) {
  if (local == 0 || local == full_plan_->batch) return *full_plan_;
  if (!tail_plan_ || local != tail_plan_->batch) {
    throw RuntimeError("no training plan for a batch of " + std::to_string(local));
  }
  return *tail_plan_;
}

StepContext Trainer::begin_step(std::span<const uint32_t> indices, int64_t global) {
  StepContext context{.plan = &plan_for(std::ssize(indices)),
                      .local = std::ssize(indices),
                      .global = global,
                      .stop = stop_requested().load(std::memory_order_relaxed)};
  if (context.local > 0) {
    session_.load_batch(*context.plan, *data_.train, indices);
    if (session_.experiment().data.augmentation) augment(*context.plan, indices);
    session_.runtime().step = optimizer_->iterations();  // dropout's stream follows the step
  }
  for (const auto& hook : hooks_) hook->on_step_start(context);
  return context;
}

// Each sample's draws come from (seed, epoch, its row in the file): the same augmentation
// whatever the thread count, the shard or a resume in the middle of an epoch.
void Trainer::augment(const BoundPlan& plan, std::span<const uint32_t> indices) {
  constexpr uint64_t kAugmentationStream = 0xa06;
  const Experiment& e = session_.experiment();
  const Dataset& train = *data_.train;
  const Shape& shape = train.sample_shape();
  const uint64_t epoch_seed =
      derive_seed(derive_seed(e.seed, kAugmentationStream), uint64_t(state_.position.epoch));
  const int64_t size = train.sample_size();
  const auto count = std::ssize(indices);
#pragma omp parallel for
  for (int64_t b = 0; b < count; ++b) {
    const auto row = uint64_t(train.row(indices[size_t(b)]));
    augment_image(*e.data.augmentation, derive_seed(epoch_seed, row), plan.images + b * size,
                  shape[0], shape[1], shape[2]);
  }
}

// In checking mode (trainer.check_numerics) the plan runs node by node, every output checked.
void Trainer::run_step(StepContext& context) {
  if (context.local == 0) return;
  Plan& plan = *context.plan->plan;
  if (session_.experiment().trainer.check_numerics) {
    context.culprit = run_to_first_nonfinite(plan);
  } else {
    plan.run();
  }
}

void Trainer::finish_step(StepContext& context) {
  context.loss_sum = context.local > 0 ? double(*context.plan->loss) * double(context.local) : 0.0;
  for (const auto& hook : hooks_) hook->on_gradients_ready(context);
}

bool Trainer::apply_step(StepContext& context) {
  if (!numerics_ok(context)) return false;
  BoundPlan& plan = *context.plan;
  optimizer_->step(plan.gradients);
  step_loss_sum_ = context.loss_sum;
  if (context.local > 0) {
    metrics_.update({.predictions = plan.prediction,
                     .size = context.local,
                     .width = session_.classes(),
                     .encoding = data_.train->format().encoding,
                     .labels = plan.labels});
  }
  return true;
}

bool Trainer::gradients_finite(const BoundPlan& plan) const {
  for (size_t i = 0; i < plan.gradients.size(); ++i) {
    if (!all_finite(plan.gradients[i], gradient_elements_[i])) return false;
  }
  return true;
}

// A bad step either throws with the epoch, the step and the first node that produced a
// non-finite value, or (on_nonfinite: skip) reports it and leaves the weights untouched.
bool Trainer::numerics_ok(StepContext& context) {
  if (!context.culprit.empty()) return reject_nonfinite(context.culprit);
  if (std::isfinite(context.loss_sum) && gradients_finite(*context.plan)) return true;
  if (context.combined) {
    return reject_nonfinite("the batch's loss or its gradients (averaged over ranks)");
  }
  // Find the first node whose output is not finite by running the step again, node by node.
  const std::string culprit = run_to_first_nonfinite(*context.plan->plan);
  return culprit.empty() || reject_nonfinite(culprit);
}

// Stops training (trainer.on_nonfinite: stop) or records why the batch is skipped.
bool Trainer::reject_nonfinite(const std::string& culprit) {
  const std::string where = "epoch " + std::to_string(state_.position.epoch) + ", step " +
                            std::to_string(state_.position.step_in_epoch + 1) +
                            ": a non-finite value, first produced by " + culprit;
  if (session_.experiment().trainer.on_nonfinite == TrainerSpec::OnNonFinite::stop) {
    throw NonFiniteError(where +
                         "; training stopped (the last checkpoint is the last good state; "
                         "trainer.on_nonfinite: skip skips such batches)");
  }
  last_skip_message_ = where + "; the batch was skipped";
  return false;
}

}  // namespace loom
