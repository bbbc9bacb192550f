// Optimizers against three hand-computed steps of Keras 3's formulas, on w0 = [1, -2] with
// the gradients g1 = [0.5, -1], g2 = [0.1, 0.2], g3 = [-0.3, 0.4]. Worked example for the
// first RMSprop step (lr 0.01, rho 0.9): v = 0.1·0.5² = 0.025,
// w = 1 - 0.01·0.5/sqrt(0.025 + 1e-7) = 0.96837729.

#include "engine/optim/optimizer.hpp"

#include <gtest/gtest.h>

#include <array>

#include "engine/core/error.hpp"

namespace loom {
namespace {

using Trajectory = std::array<std::array<double, 2>, 3>;

Trajectory run_three_steps(const std::string& name, const std::string& options_yaml) {
  ConfigNode options = ConfigNode::parse(options_yaml, "options.yaml");
  std::unique_ptr<Optimizer> optimizer = OptimizerRegistry::global().create(name, options);
  std::array<float, 2> weights = {1.0f, -2.0f};
  optimizer->bind({{"w", std::span<float>(weights)}});
  const std::array<std::array<float, 2>, 3> gradients = {
      {{0.5f, -1.0f}, {0.1f, 0.2f}, {-0.3f, 0.4f}}};
  Trajectory trajectory{};
  for (size_t step = 0; step < 3; ++step) {
    std::array<float, 2> gradient_copy = gradients[step];
    float* gradient[] = {gradient_copy.data()};
    optimizer->step(gradient);
    trajectory[step] = {weights[0], weights[1]};
  }
  EXPECT_EQ(optimizer->iterations(), 3);
  return trajectory;
}

void expect_trajectory(const Trajectory& actual, const Trajectory& expected) {
  for (size_t step = 0; step < 3; ++step) {
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_NEAR(actual[step][i], expected[step][i], 2e-6)
          << "step " << step + 1 << ", w[" << i << "]";
    }
  }
}

TEST(Sgd, PlainStepsAreMinusLearningRateTimesGradient) {
  expect_trajectory(run_three_steps("sgd", "{learning_rate: 0.1}"),
                    {{{0.95, -1.9}, {0.94, -1.92}, {0.97, -1.96}}});
}

TEST(Sgd, Momentum) {
  // m = 0.9·m - 0.1·g; w += m
  expect_trajectory(run_three_steps("sgd", "{learning_rate: 0.1, momentum: 0.9}"),
                    {{{0.95, -1.9}, {0.895, -1.83}, {0.8755, -1.807}}});
}

TEST(Sgd, Nesterov) {
  // m = 0.9·m - 0.1·g; w += 0.9·m - 0.1·g
  expect_trajectory(run_three_steps("sgd", "{learning_rate: 0.1, momentum: 0.9, nesterov: true}"),
                    {{{0.905, -1.81}, {0.8455, -1.767}, {0.85795, -1.7863}}});
}

TEST(Sgd, KerasDefaultLearningRateIs0_01) {
  expect_trajectory(run_three_steps("sgd", "{}"),
                    {{{0.995, -1.99}, {0.994, -1.992}, {0.997, -1.996}}});
}

TEST(RmsProp, Plain) {
  expect_trajectory(
      run_three_steps("rmsprop", "{learning_rate: 0.01}"),
      {{{0.96837729, -1.96837724}, {0.96185402, -1.97490052}, {0.97913136, -1.98751184}}});
}

TEST(RmsProp, KerasDefaults) {
  // learning_rate 0.001, rho 0.9, epsilon 1e-7 (inside the square root)
  expect_trajectory(
      run_three_steps("rmsprop", "{}"),
      {{{0.99683773, -1.99683772}, {0.99618540, -1.99749005}, {0.99791314, -1.99875118}}});
}

TEST(RmsProp, Momentum) {
  // m = 0.5·m + lr·g/sqrt(v + eps); w -= m
  expect_trajectory(
      run_three_steps("rmsprop", "{learning_rate: 0.01, momentum: 0.5}"),
      {{{0.96837729, -1.96837724}, {0.94604266, -1.95908914}, {0.95215269, -1.96705641}}});
}

TEST(RmsProp, Centered) {
  // a = 0.9·a + 0.1·g; w -= lr·g/sqrt(v - a² + eps)
  expect_trajectory(
      run_three_steps("rmsprop", "{learning_rate: 0.01, centered: true}"),
      {{{0.96666674, -1.96666669}, {0.95967819, -1.97336693}, {0.97706552, -1.98601155}}});
}

TEST(RmsProp, ExposesItsSlotsByName) {
  ConfigNode options = ConfigNode::parse("{momentum: 0.5, centered: true}", "options.yaml");
  auto optimizer = OptimizerRegistry::global().create("rmsprop", options);
  std::array<float, 3> weights{};
  optimizer->bind({{"dense/kernel", std::span<float>(weights)}});
  std::vector<std::string> names;
  for (const OptimizerState& state : optimizer->state()) names.push_back(state.name);
  EXPECT_EQ(names, (std::vector<std::string>{"dense/kernel/velocity", "dense/kernel/momentum",
                                             "dense/kernel/average_gradient"}));
}

void expect_option_error(const std::string& name, const std::string& yaml,
                         const std::string& expected) {
  ConfigNode options = ConfigNode::parse(yaml, "c.yaml");
  try {
    OptimizerRegistry::global().create(name, options);
    FAIL() << "expected an error for " << yaml;
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
  }
}

TEST(OptimizerRegistry, UnknownOptionListsTheKnownOnes) {
  expect_option_error(
      "rmsprop", "{lr: 0.1}",
      "c.yaml:1:2: lr: unknown key 'lr' for optimizer 'rmsprop' (known: centered, clipnorm, "
                      "clipvalue, epsilon, global_clipnorm, learning_rate, momentum, rho, "
                      "weight_decay)");
}

TEST(OptimizerRegistry, OutOfRangeValuesAreErrors) {
  expect_option_error("rmsprop", "{rho: 1.5}",
                      "c.yaml:1:7: rho: expected a number in [0, 1], got 1.5");
  expect_option_error("sgd", "{learning_rate: -1}",
                      "learning_rate: expected a number in [0, inf], got -1");
  expect_option_error("sgd", "{nesterov: maybe}", "nesterov: expected true or false, got 'maybe'");
}

TEST(OptimizerRegistry, UnknownOptimizerListsTheKnownOnes) {
  expect_option_error("adamax2", "{}",
                      "unknown optimizer 'adamax2' (known: adadelta, adagrad, adam, adamax, "
                      "adamw, lion, nadam, rmsprop, sgd)");
}

}  // namespace
}  // namespace loom
