// The schedules of keras/src/optimizers/schedules/learning_rate_schedule.py, as functions of
// the step (0 at the first), with their options' schemas.

#include "engine/optim/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/core/error.hpp"
#include "engine/core/named_table.hpp"

namespace loom {

namespace {

class Constant final : public LearningRateSchedule {
 public:
  explicit Constant(double rate) : rate_(rate) {}
  double rate(int64_t) const override { return rate_; }
  bool is_constant() const override { return true; }

 private:
  double rate_;
};

// The options most schedules start from.
AttributeSpec initial_learning_rate() {
  return required_option("initial_learning_rate", AttributeKind::real, at_least(0.0),
                         "the rate at step 0");
}

AttributeSpec decay_steps() {
  return required_option("decay_steps", AttributeKind::integer, at_least(1),
                         "the steps one decay period spans");
}

// What exponential and inverse-time decay share: lr0, decay_steps, decay_rate, staircase, and
// the progress s / decay_steps (floored when staircase).
class StepDecay : public LearningRateSchedule {
 public:
  explicit StepDecay(const Attributes& options)
      : initial_(options.real("initial_learning_rate")),
        steps_(double(options.integer("decay_steps"))),
        rate_(options.real("decay_rate")),
        staircase_(options.boolean("staircase")) {}

  static OptionSchema options() {
    return {initial_learning_rate(), decay_steps(),
            required_option("decay_rate", AttributeKind::real, at_least(0.0),
                            "the factor per decay period"),
            boolean_option("staircase", false, "decay in whole periods")};
  }

 protected:
  double progress(int64_t step) const {
    const double p = double(step) / steps_;
    return staircase_ ? std::floor(p) : p;
  }
  double initial_, steps_, rate_;

 private:
  bool staircase_;
};

// lr0 · decay_rate^progress
class ExponentialDecay final : public StepDecay {
 public:
  using StepDecay::StepDecay;
  double rate(int64_t step) const override { return initial_ * std::pow(rate_, progress(step)); }
};

// lr0 / (1 + decay_rate · progress)
class InverseTimeDecay final : public StepDecay {
 public:
  using StepDecay::StepDecay;
  double rate(int64_t step) const override { return initial_ / (1 + rate_ * progress(step)); }
};

// values[i] for boundaries[i-1] < s <= boundaries[i]: a step on a boundary takes the value
// on its left.
class PiecewiseConstant final : public LearningRateSchedule {
 public:
  explicit PiecewiseConstant(const Attributes& options)
      : boundaries_(options.integers("boundaries")), values_(options.reals("values")) {}

  static OptionSchema options() {
    return {required_option("boundaries", AttributeKind::integers, at_least(0),
                            "the steps where the rate changes, increasing"),
            required_option("values", AttributeKind::reals, at_least(0.0),
                            "the rates before, between and after the boundaries")};
  }

  static std::optional<OptionProblem> check(const Attributes& options) {
    const std::vector<int64_t>& boundaries = options.integers("boundaries");
    for (size_t i = 1; i < boundaries.size(); ++i) {
      if (boundaries[i] <= boundaries[i - 1]) {
        return OptionProblem{"boundaries", i, "boundaries must increase"};
      }
    }
    const size_t values = options.reals("values").size();
    if (values != boundaries.size() + 1) {
      return OptionProblem{"values", std::nullopt,
                           "expected " + std::to_string(boundaries.size() + 1) +
                               " values (one more than the boundaries), got " +
                               std::to_string(values)};
    }
    return std::nullopt;
  }

  double rate(int64_t step) const override {
    const auto index = std::ranges::lower_bound(boundaries_, step) - boundaries_.begin();
    return values_[size_t(index)];
  }

 private:
  std::vector<int64_t> boundaries_;
  std::vector<double> values_;
};

// (lr0 - end)·(1 - p)^power + end, p = min(s, D)/D; with cycle, D grows to the next multiple.
class PolynomialDecay final : public LearningRateSchedule {
 public:
  explicit PolynomialDecay(const Attributes& options)
      : initial_(options.real("initial_learning_rate")),
        steps_(double(options.integer("decay_steps"))),
        end_(options.real("end_learning_rate")),
        power_(options.real("power")),
        cycle_(options.boolean("cycle")) {}

  static OptionSchema options() {
    return {initial_learning_rate(), decay_steps(),
            real_option("end_learning_rate", 1e-4, at_least(0.0), "the rate at the end"),
            real_option("power", 1.0, at_least(0.0), "the polynomial's exponent"),
            boolean_option("cycle", false, "start again past decay_steps, over a longer span")};
  }

  double rate(int64_t step) const override {
    double s = double(step), d = steps_;
    if (cycle_) {
      d = steps_ * (step == 0 ? 1.0 : std::ceil(s / steps_));
    } else {
      s = std::min(s, steps_);
    }
    return (initial_ - end_) * std::pow(1 - s / d, power_) + end_;
  }

 private:
  double initial_, steps_, end_, power_;
  bool cycle_;
};

// Cosine from lr0 to alpha·lr0 over decay_steps; with warmup_target, first a linear warmup
// from lr0 to warmup_target over warmup_steps, then the cosine from warmup_target.
class CosineDecay final : public LearningRateSchedule {
 public:
  explicit CosineDecay(const Attributes& options)
      : initial_(options.real("initial_learning_rate")),
        steps_(double(options.integer("decay_steps"))),
        alpha_(options.real("alpha")),
        warmup_steps_(double(options.integer("warmup_steps"))),
        warmup_target_(options.optional_real("warmup_target")) {}

  static OptionSchema options() {
    return {initial_learning_rate(), decay_steps(),
            real_option("alpha", 0.0, between(0.0, 1.0),
                        "the final rate, as a fraction of the initial one"),
            integer_option("warmup_steps", 0, at_least(0), "the steps of the linear warmup"),
            switch_option("warmup_target", at_least(0.0),
                          "the rate the warmup reaches (absent: no warmup)")};
  }

  double rate(int64_t step) const override {
    if (!warmup_target_) return decayed(std::min(double(step), steps_), initial_);
    const double s = std::min(double(step), steps_ + warmup_steps_);
    if (s < warmup_steps_) return initial_ + (*warmup_target_ - initial_) * s / warmup_steps_;
    return decayed(s - warmup_steps_, *warmup_target_);
  }

 private:
  double decayed(double s, double from) const {
    return from * ((1 - alpha_) * 0.5 * (1 + std::cos(std::numbers::pi * s / steps_)) + alpha_);
  }
  double initial_, steps_, alpha_, warmup_steps_;
  std::optional<double> warmup_target_;
};

template <typename Schedule>
ScheduleDefinition definition(std::string name, OptionCheck check = {}) {
  return {.name = std::move(name),
          .options = Schedule::options(),
          .check = std::move(check),
          .create = [](const Attributes& options) { return std::make_unique<Schedule>(options); }};
}

}  // namespace

const std::vector<ScheduleDefinition>& schedule_definitions() {
  static const std::vector<ScheduleDefinition> table = {
      definition<CosineDecay>("cosine_decay"),
      definition<ExponentialDecay>("exponential_decay"),
      definition<InverseTimeDecay>("inverse_time_decay"),
      definition<PiecewiseConstant>("piecewise_constant_decay", &PiecewiseConstant::check),
      definition<PolynomialDecay>("polynomial_decay"),
      reduce_on_plateau_definition(),
  };
  return table;
}

const ScheduleDefinition* find_schedule(const std::string& name) {
  return find_named(schedule_definitions(), name);
}

std::vector<std::string> schedule_names() {
  return names_of(schedule_definitions());
}

std::unique_ptr<LearningRateSchedule> make_schedule(const LearningRateSpec& spec) {
  if (!spec.schedule) return std::make_unique<Constant>(spec.constant);
  const ScheduleDefinition* definition = find_schedule(spec.schedule->name);
  if (!definition) throw InputError("unknown schedule '" + spec.schedule->name + "'");
  const std::string owner = "schedule '" + definition->name + "'";
  const Attributes options = with_defaults(definition->options, spec.schedule->options, owner);
  if (definition->check) {
    if (const auto problem = definition->check(options)) {
      throw InputError(owner + ": " + problem->key + ": " + problem->message);
    }
  }
  return definition->create(options);
}

}  // namespace loom
