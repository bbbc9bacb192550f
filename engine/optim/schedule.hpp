#pragma once
// Learning-rate schedules with Keras 3's names and formulas, evaluated at the optimizer's
// iteration count (0 at the first step). `learning_rate:` in a config is a number (constant)
// or one schedule: {exponential_decay: {initial_learning_rate: 0.1, decay_steps: 1000, ...}}.
// reduce_on_plateau is driven by a metric at the end of each epoch instead of by the step.
// Each schedule declares its options' schema; the config resolves them into typed values.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/graph/option_schema.hpp"

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

// One schedule as configured: its name and its options (every default filled in).
struct ScheduleSpec {
  std::string name;
  Attributes options;
};

// `learning_rate:` as configured: a constant, or one schedule.
struct LearningRateSpec {
  double constant = 0.001;
  std::optional<ScheduleSpec> schedule;
  bool is_constant() const { return !schedule; }
};

struct ScheduleDefinition {
  std::string name;
  OptionSchema options;
  OptionCheck check;  // across options (boundaries that increase, ...); may be empty
  std::function<std::unique_ptr<LearningRateSchedule>(const Attributes&)> create;
};

// The schedules, sorted by name.
const std::vector<ScheduleDefinition>& schedule_definitions();
const ScheduleDefinition* find_schedule(const std::string& name);  // null: unknown
std::vector<std::string> schedule_names();

// The schedule `spec` describes; options left out take their defaults.
std::unique_ptr<LearningRateSchedule> make_schedule(const LearningRateSpec& spec);

// Keras's ReduceLROnPlateau as a schedule, and as the callback trainer.callbacks
// .reduce_lr_on_plateau: the same rule, the callback starting from the optimizer's constant
// learning rate (so its options are the schedule's but initial_learning_rate).
ScheduleDefinition reduce_on_plateau_definition();  // engine/optim/reduce_on_plateau.cpp
const OptionSchema& reduce_lr_on_plateau_options();
std::unique_ptr<LearningRateSchedule> make_reduce_lr_on_plateau(const Attributes& options,
                                                                double initial_rate);

}  // namespace loom
