// Learning-rate schedules against their Keras 3 formulas at chosen steps (worked out by hand
// in double precision; lr0 = 0.1 throughout).

#include "engine/optim/schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/config/read_trainer.hpp"
#include "engine/core/error.hpp"

namespace loom {
namespace {

std::unique_ptr<LearningRateSchedule> schedule(const std::string& yaml) {
  return make_schedule(read_learning_rate(ConfigNode::parse(yaml, "schedule.yaml"), 1.0));
}

void expect_rates(const LearningRateSchedule& s, const std::vector<int64_t>& steps,
                  const std::vector<double>& expected) {
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_NEAR(s.rate(steps[i]), expected[i], 1e-9) << "step " << steps[i];
  }
}

TEST(Schedule, ConstantNumberAndDefault) {
  expect_rates(*schedule("0.25"), {0, 1000}, {0.25, 0.25});
  expect_rates(*make_schedule(read_learning_rate(ConfigNode(), 0.001)), {0, 7}, {0.001, 0.001});
}

TEST(Schedule, ExponentialDecay) {
  // 0.1·0.5^(s/10), and with staircase 0.1·0.5^floor(s/10)
  expect_rates(
      *schedule(
          "{exponential_decay: {initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5}}"),
      {0, 1, 5, 10, 15, 25}, {0.1, 0.093303299, 0.070710678, 0.05, 0.035355339, 0.01767767});
  expect_rates(*schedule("{exponential_decay: {initial_learning_rate: 0.1, decay_steps: 10, "
                         "decay_rate: 0.5, staircase: true}}"),
               {0, 9, 10, 15, 25}, {0.1, 0.1, 0.05, 0.05, 0.025});
}

TEST(Schedule, InverseTimeDecay) {
  // 0.1/(1 + 0.5·s/10)
  expect_rates(
      *schedule(
          "{inverse_time_decay: {initial_learning_rate: 0.1, decay_steps: 10, decay_rate: 0.5}}"),
      {0, 1, 5, 10, 15, 25}, {0.1, 0.095238095, 0.08, 0.066666667, 0.057142857, 0.044444444});
  expect_rates(*schedule("{inverse_time_decay: {initial_learning_rate: 0.1, decay_steps: 10, "
                         "decay_rate: 0.5, staircase: true}}"),
               {0, 9, 10, 15, 25}, {0.1, 0.1, 0.066666667, 0.066666667, 0.05});
}

TEST(Schedule, PiecewiseConstantTakesTheLeftValueOnABoundary) {
  expect_rates(
      *schedule("{piecewise_constant_decay: {boundaries: [10, 20], values: [0.1, 0.05, 0.01]}}"),
      {0, 10, 11, 20, 21, 100}, {0.1, 0.1, 0.05, 0.05, 0.01, 0.01});
}

TEST(Schedule, PolynomialDecay) {
  // (0.1 - 0.01)·(1 - min(s, 10)/10)² + 0.01; with cycle the horizon grows to ceil(s/10)·10
  expect_rates(*schedule("{polynomial_decay: {initial_learning_rate: 0.1, decay_steps: 10, "
                         "end_learning_rate: 0.01, power: 2}}"),
               {0, 1, 5, 10, 15}, {0.1, 0.0829, 0.0325, 0.01, 0.01});
  expect_rates(*schedule("{polynomial_decay: {initial_learning_rate: 0.1, decay_steps: 10, "
                         "end_learning_rate: 0.01, power: 2, cycle: true}}"),
               {0, 5, 10, 15, 20, 21}, {0.1, 0.0325, 0.01, 0.015625, 0.01, 0.0181});
}

TEST(Schedule, CosineDecayWithAndWithoutWarmup) {
  // 0.1·(0.9·0.5·(1 + cos(π·min(s, 10)/10)) + 0.1)
  expect_rates(
      *schedule("{cosine_decay: {initial_learning_rate: 0.1, decay_steps: 10, alpha: 0.1}}"),
      {0, 1, 5, 10, 20}, {0.1, 0.097797543, 0.055, 0.01, 0.01});
  // Linear from 0.1 to 0.5 over 4 steps, then the cosine from 0.5 over the next 10.
  expect_rates(*schedule("{cosine_decay: {initial_learning_rate: 0.1, decay_steps: 10, alpha: 0.1, "
                         "warmup_target: 0.5, warmup_steps: 4}}"),
               {0, 1, 2, 4, 5, 9, 14, 20}, {0.1, 0.2, 0.3, 0.5, 0.488987716, 0.275, 0.05, 0.05});
}

TEST(Schedule, ReduceOnPlateauFollowsKerasRule) {
  auto s = schedule(
      "{reduce_on_plateau: {initial_learning_rate: 0.1, monitor: test_loss, factor: 0.5, patience: "
      "2, cooldown: 1, min_lr: 0.02}}");
  EXPECT_EQ(s->monitor(), "test_loss");
  const std::vector<double> losses = {1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.94, 0.96, 0.97, 0.98};
  // epoch: 1 best; 2 better; 3,4 wait 1,2 -> lr 0.05, cooldown 1; 5 cooldown: counter 0, no
  // improvement, wait 1; 6 wait 2 -> 0.025, cooldown 1; 7 counter 0, wait 1; 8 wait 2 ->
  // max(0.0125, 0.02) = 0.02; 9 counter 0, wait 1; 10 wait 2 but lr is at min_lr: stays.
  const std::vector<double> expected = {0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02};
  for (size_t epoch = 0; epoch < losses.size(); ++epoch) {
    s->epoch_end({{"test_loss", losses[epoch]}});
    EXPECT_NEAR(s->rate(12345), expected[epoch], 1e-12) << "after epoch " << epoch + 1;
  }
}

TEST(Schedule, ReduceOnPlateauMaximizesAccuracyInAutoMode) {
  auto s =
      schedule("{reduce_on_plateau: {initial_learning_rate: 0.1, monitor: accuracy, patience: 1}}");
  s->epoch_end({{"accuracy", 0.5}});
  s->epoch_end({{"accuracy", 0.6}});  // better: no change
  EXPECT_DOUBLE_EQ(s->rate(0), 0.1);
  s->epoch_end({{"accuracy", 0.55}});  // worse: patience 1 reached, factor 0.1
  EXPECT_NEAR(s->rate(0), 0.01, 1e-12);
}

TEST(Schedule, BadOptionsAreErrorsAtTheirPosition) {
  EXPECT_THROW(schedule("{piecewise_constant_decay: {boundaries: [10, 20], values: [0.1, 0.05]}}"),
               InputError);
  EXPECT_THROW(schedule("{piecewise_constant_decay: {boundaries: [20, 10], values: [1, 2, 3]}}"),
               InputError);
  EXPECT_THROW(
      schedule(
          "{exponential_decay: {initial_learning_rate: 0.1, decay_steps: 0, decay_rate: 0.5}}"),
      InputError);
  EXPECT_THROW(schedule("{reduce_on_plateau: {initial_learning_rate: 0.1, monitor: val_los}}"),
               InputError);
  EXPECT_THROW(
      schedule("{reduce_on_plateau: {initial_learning_rate: 0.1, monitor: loss, factor: 1}}"),
      InputError);
  EXPECT_THROW(schedule("{cosine_decay: {initial_learning_rate: 0.1, decay_steps: 10, warmup: 3}}"),
               InputError);
}

}  // namespace
}  // namespace loom
