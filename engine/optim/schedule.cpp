// The schedules of keras/src/optimizers/schedules/learning_rate_schedule.py and the rule of
// keras/src/callbacks/reduce_lr_on_plateau.py, as functions of the step (0 at the first).

#include "engine/optim/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>

#include "engine/core/error.hpp"

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

// What exponential and inverse-time decay share: lr0, decay_steps, decay_rate, staircase, and
// the progress s / decay_steps (floored when staircase).
class StepDecay : public LearningRateSchedule {
 public:
  explicit StepDecay(ConfigNode& node)
      : initial_(node.at("initial_learning_rate").as_real(0.0)),
        steps_(double(node.at("decay_steps").as_int(1))),
        rate_(node.at("decay_rate").as_real(0.0)),
        staircase_(node.get_bool("staircase", false)) {}

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
  explicit PiecewiseConstant(ConfigNode& node) {
    ConfigNode boundaries = node.at("boundaries");
    boundaries_ = boundaries.as_int_list(0);
    for (size_t i = 1; i < boundaries_.size(); ++i) {
      if (boundaries_[i] <= boundaries_[i - 1]) boundaries[i].fail("boundaries must increase");
    }
    ConfigNode values = node.at("values");
    values.expect_sequence();
    for (size_t i = 0; i < values.size(); ++i) values_.push_back(values[i].as_real(0.0));
    if (values_.size() != boundaries_.size() + 1) {
      values.fail("expected " + std::to_string(boundaries_.size() + 1) +
                  " values (one more than the boundaries), got " + std::to_string(values_.size()));
    }
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
  explicit PolynomialDecay(ConfigNode& node)
      : initial_(node.at("initial_learning_rate").as_real(0.0)),
        steps_(double(node.at("decay_steps").as_int(1))),
        end_(node.get_real("end_learning_rate", 1e-4, 0.0)),
        power_(node.get_real("power", 1.0, 0.0)),
        cycle_(node.get_bool("cycle", false)) {}
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
  explicit CosineDecay(ConfigNode& node)
      : initial_(node.at("initial_learning_rate").as_real(0.0)),
        steps_(double(node.at("decay_steps").as_int(1))),
        alpha_(node.get_real("alpha", 0.0, 0.0, 1.0)),
        warmup_steps_(double(node.get_int("warmup_steps", 0, 0))) {
    if (auto target = node.find("warmup_target")) warmup_target_ = target->as_real(0.0);
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

// Keras's ReduceLROnPlateau as a schedule: after `patience` epochs without an improvement of
// more than min_delta in the monitored metric, lr = max(lr·factor, min_lr), then `cooldown`
// epochs in which waiting does not count.
class ReduceOnPlateau final : public LearningRateSchedule {
 public:
  explicit ReduceOnPlateau(ConfigNode& node, std::optional<double> initial = std::nullopt)
      : rate_(initial ? *initial : node.at("initial_learning_rate").as_real(0.0)),
        initial_rate_(rate_),
        factor_(node.get_real("factor", 0.1, 0.0, 1.0)),
        patience_(node.get_int("patience", 10, 0)),
        min_delta_(std::abs(node.get_real("min_delta", 1e-4))),
        cooldown_(node.get_int("cooldown", 0, 0)),
        min_rate_(node.get_real("min_lr", 0.0, 0.0)) {
    if (factor_ >= 1.0) node.at("factor").fail("a factor of 1 or more would never reduce");
    ConfigNode monitor = node.at("monitor");
    monitor_ = monitor.as_string();
    if (std::ranges::find(monitorable_metrics(), monitor_) == monitorable_metrics().end()) {
      monitor.fail("unknown metric '" + monitor_ +
                   "' (known: " + join_names(monitorable_metrics()) + ")");
    }
    const std::string mode = node.get_string("mode", "auto");
    if (mode != "auto" && mode != "min" && mode != "max") {
      node.at("mode").fail("unknown mode '" + mode + "' (known: auto, max, min)");
    }
    // auto: losses fall, accuracies rise.
    maximize_ = mode == "max" || (mode == "auto" && monitor_.ends_with("accuracy"));
  }

  double rate(int64_t) const override { return rate_; }
  std::string monitor() const override { return monitor_; }

  void epoch_end(const EpochMetrics& metrics) override {
    const auto found = metrics.find(monitor_);
    if (found == metrics.end()) return;
    const double current = found->second;
    if (cooldown_counter_ > 0) {
      --cooldown_counter_;
      wait_ = 0;
    }
    const bool improved =
        has_best_ == 0 || (maximize_ ? current > best_ + min_delta_ : current < best_ - min_delta_);
    if (improved) {
      best_ = current;
      has_best_ = 1;
      wait_ = 0;
    } else if (cooldown_counter_ <= 0) {
      wait_ += 1;
      if (wait_ >= double(patience_) && float(rate_) > float(min_rate_)) {
        rate_ = std::max(rate_ * factor_, min_rate_);
        cooldown_counter_ = double(cooldown_);
        wait_ = 0;
      }
    }
  }

  std::vector<std::pair<std::string, double*>> state() override {
    return {{"learning_rate", &rate_},
            {"best", &best_},
            {"has_best", &has_best_},
            {"wait", &wait_},
            {"cooldown_counter", &cooldown_counter_}};
  }

  // The rate only falls, from the initial one to min_lr; the counters are whole epochs.
  std::string state_problem() const override {
    const auto whole = [](double value, double high) {
      return value >= 0 && value <= high && value == std::floor(value);
    };
    if (!(rate_ <= initial_rate_ && rate_ >= std::min(initial_rate_, min_rate_))) {
      return "schedule/learning_rate from min_lr to the initial rate";
    }
    if (!whole(has_best_, 1)) return "schedule/has_best 0 or 1";
    if (!whole(wait_, 0x1p53)) return "schedule/wait a whole number of epochs";
    if (!whole(cooldown_counter_, double(cooldown_))) {
      return "schedule/cooldown_counter a whole number from 0 to cooldown (" +
             std::to_string(cooldown_) + ")";
    }
    return "";
  }

 private:
  double rate_, initial_rate_, factor_;
  int64_t patience_;
  double min_delta_;
  int64_t cooldown_;
  double min_rate_;
  std::string monitor_;
  bool maximize_ = false;
  double best_ = 0, wait_ = 0, cooldown_counter_ = 0;
  double has_best_ = 0;  // 0 or 1: a double, so checkpoints keep it with the other scalars
};

using ScheduleFactory = std::function<std::unique_ptr<LearningRateSchedule>(ConfigNode&)>;

template <typename Schedule>
ScheduleFactory factory() {
  return [](ConfigNode& node) { return std::make_unique<Schedule>(node); };
}

const std::vector<std::pair<std::string, ScheduleFactory>>& schedules() {
  static const std::vector<std::pair<std::string, ScheduleFactory>> table = {
      {"cosine_decay", factory<CosineDecay>()},
      {"exponential_decay", factory<ExponentialDecay>()},
      {"inverse_time_decay", factory<InverseTimeDecay>()},
      {"piecewise_constant_decay", factory<PiecewiseConstant>()},
      {"polynomial_decay", factory<PolynomialDecay>()},
      {"reduce_on_plateau", factory<ReduceOnPlateau>()},
  };
  return table;
}

}  // namespace

std::unique_ptr<LearningRateSchedule> make_reduce_lr_on_plateau(ConfigNode options,
                                                                double initial_rate) {
  options.expect_map();
  auto schedule = std::make_unique<ReduceOnPlateau>(options, initial_rate);
  options.finish("for reduce_lr_on_plateau (the learning rate comes from the optimizer)");
  return schedule;
}

const std::vector<std::string>& schedule_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> result;
    for (const auto& entry : schedules()) result.push_back(entry.first);
    return result;
  }();
  return names;
}

const std::vector<std::string>& monitorable_metrics() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> result;
    for (const char* prefix : {"", "val_", "test_"}) {
      for (const char* metric : {"accuracy", "loss", "mse", "top_k_accuracy"}) {
        result.push_back(std::string(prefix) + metric);
      }
    }
    return result;
  }();
  return names;
}

std::unique_ptr<LearningRateSchedule> read_learning_rate(ConfigNode node, double fallback) {
  if (node.is_null()) return std::make_unique<Constant>(fallback);
  if (node.is_scalar()) return std::make_unique<Constant>(node.as_real(0.0));
  node.expect_map();
  const auto entries = node.entries();
  if (entries.size() != 1) {
    node.fail("expected a number or one schedule, e.g. {exponential_decay: {...}} (known: " +
              join_names(schedule_names()) + ")");
  }
  auto [name, options] = entries[0];
  for (const auto& [known, make] : schedules()) {
    if (known != name) continue;
    options.expect_map();
    std::unique_ptr<LearningRateSchedule> schedule = make(options);
    options.finish("for schedule '" + name + "'");
    return schedule;
  }
  throw InputError(node.where_key(name) + ": unknown schedule '" + name +
                   "' (known: " + join_names(schedule_names()) + ")");
}

}  // namespace loom
