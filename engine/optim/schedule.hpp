#pragma once
// Learning-rate schedules with Keras 3's names and formulas, evaluated at the optimizer's
// iteration count (0 at the first step). `learning_rate:` in a config is a number (constant)
// or one schedule: {exponential_decay: {initial_learning_rate: 0.1, decay_steps: 1000, ...}}.
// reduce_on_plateau is driven by a metric at the end of each epoch instead of by the step.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/config/config_node.hpp"

namespace loom {

using EpochMetrics = std::map<std::string, double>;  // "loss", "test_accuracy", ...

class LearningRateSchedule {
 public:
  virtual ~LearningRateSchedule() = default;
  virtual double rate(int64_t step) const = 0;
  // Called with the epoch's metrics; schedules driven by a metric adjust themselves here.
  virtual void epoch_end(const EpochMetrics& /*metrics*/) {}
  // The metric the schedule reads, if any (checked against what training reports).
  virtual std::string monitor() const { return ""; }
  virtual bool is_constant() const { return false; }
  // The schedule's own mutable state by name, for checkpoints (empty for pure functions of
  // the step).
  virtual std::vector<std::pair<std::string, double*>> state() { return {}; }
  // After state() was restored from a checkpoint: what it must be when it is not that
  // (empty when it is acceptable).
  virtual std::string state_problem() const { return ""; }
};

// Reads `learning_rate` (null: the optimizer's default, a constant).
std::unique_ptr<LearningRateSchedule> read_learning_rate(ConfigNode node, double fallback);

// Keras's ReduceLROnPlateau callback (trainer.callbacks.reduce_lr_on_plateau): the same rule
// as the reduce_on_plateau schedule, starting from the optimizer's constant learning rate.
std::unique_ptr<LearningRateSchedule> make_reduce_lr_on_plateau(ConfigNode options,
                                                                double initial_rate);

const std::vector<std::string>& schedule_names();
const std::vector<std::string>& monitorable_metrics();  // loss, accuracy, test_loss, ...

}  // namespace loom
