// The rule of keras/src/callbacks/reduce_lr_on_plateau.py as a learning-rate schedule: after
// `patience` epochs without an improvement of more than min_delta in the monitored metric,
// lr = max(lr·factor, min_lr), then `cooldown` epochs in which waiting does not count.

#include <algorithm>
#include <cmath>

#include "engine/optim/schedule.hpp"

namespace loom {

namespace {

class ReduceOnPlateau final : public LearningRateSchedule {
 public:
  ReduceOnPlateau(const Attributes& options, double initial_rate)
      : rate_(initial_rate),
        initial_rate_(initial_rate),
        factor_(options.real("factor")),
        patience_(options.integer("patience")),
        min_delta_(std::abs(options.real("min_delta"))),
        cooldown_(options.integer("cooldown")),
        min_rate_(options.real("min_lr")),
        monitor_(options.text("monitor")) {
    const std::string& mode = options.text("mode");
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

// The monitor's values are the metrics a run reports, which the config checks (the metric
// registry lives beside the data, out of the optimizers' sight).
OptionSchema plateau_options() {
  return {
      required_option("initial_learning_rate", AttributeKind::real, at_least(0.0),
                      "the rate before the first reduction"),
      required_option("monitor", AttributeKind::text, any_value(),
                      "the metric watched: loss, accuracy, val_loss, test_accuracy, ..."),
      real_option("factor", 0.1, between(0.0, 1.0), "the rate is multiplied by it (below 1)"),
      integer_option("patience", 10, at_least(0), "epochs without improvement before reducing"),
      real_option("min_delta", 1e-4, any_value(), "the least change that counts (its size)"),
      integer_option("cooldown", 0, at_least(0), "epochs after a reduction that do not count"),
      real_option("min_lr", 0.0, at_least(0.0), "the rate is never reduced below it"),
      text_option("mode", "auto", {"auto", "max", "min"}, "auto: accuracies rise and losses fall"),
  };
}

std::optional<OptionProblem> check_factor(const Attributes& options) {
  if (options.real("factor") >= 1.0) {
    return OptionProblem{"factor", std::nullopt, "a factor of 1 or more would never reduce"};
  }
  return std::nullopt;
}

}  // namespace

ScheduleDefinition reduce_on_plateau_definition() {
  return {.name = "reduce_on_plateau",
          .options = plateau_options(),
          .check = check_factor,
          .create = [](const Attributes& options) -> std::unique_ptr<LearningRateSchedule> {
            return std::make_unique<ReduceOnPlateau>(options,
                                                     options.real("initial_learning_rate"));
          }};
}

const OptionSchema& reduce_lr_on_plateau_options() {
  static const OptionSchema schema = without(plateau_options(), {"initial_learning_rate"});
  return schema;
}

std::unique_ptr<LearningRateSchedule> make_reduce_lr_on_plateau(const Attributes& options,
                                                                double initial_rate) {
  return std::make_unique<ReduceOnPlateau>(
      with_defaults(reduce_lr_on_plateau_options(), options, "reduce_lr_on_plateau"), initial_rate);
}

}  // namespace loom
