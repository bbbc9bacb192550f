// Optimizers against three hand-computed steps of Keras 3's formulas. Unless a test says
// otherwise: w0 = [1, -2], gradients g1 = [0.5, -1], g2 = [0.1, 0.2], g3 = [-0.3, 0.4].
// The expected numbers were worked out in double precision from the formulas in each
// optimizer's file (and in the comments here); for example the first RMSprop step with
// lr 0.01, rho 0.9: v = 0.1·0.5² = 0.025, w = 1 - 0.01·0.5/sqrt(0.025 + 1e-7) = 0.96837729.

#include "engine/optim/optimizer.hpp"

#include <gtest/gtest.h>

#include <array>

#include "engine/config/read_trainer.hpp"
#include "engine/core/error.hpp"

namespace loom {
namespace {

using Pair = std::array<double, 2>;
using Trajectory = std::array<Pair, 3>;
constexpr std::array<std::array<float, 2>, 3> kGradients = {
    {{0.5f, -1.0f}, {0.1f, 0.2f}, {-0.3f, 0.4f}}};

std::unique_ptr<Optimizer> make(const std::string& name, const std::string& options_yaml) {
  const ConfigNode options = ConfigNode::parse(options_yaml, "options.yaml");
  return OptimizerRegistry::global().create(read_optimizer_options(name, options));
}

// One parameter of two elements (or, with `split`, two parameters of one element each).
Trajectory run_three_steps(const std::string& name, const std::string& options_yaml,
                           const std::array<std::array<float, 2>, 3>& gradients = kGradients,
                           bool split = false) {
  std::unique_ptr<Optimizer> optimizer = make(name, options_yaml);
  std::array<float, 2> weights = {1.0f, -2.0f};
  if (split) {
    optimizer->bind({{"a", std::span<float>(weights.data(), 1)},
                     {"b", std::span<float>(weights.data() + 1, 1)}});
  } else {
    optimizer->bind({{"w", std::span<float>(weights)}});
  }
  Trajectory trajectory{};
  for (size_t step = 0; step < 3; ++step) {
    std::array<float, 2> gradient = gradients[step];  // clipping may rescale it in place
    if (split) {
      float* pointers[] = {gradient.data(), gradient.data() + 1};
      optimizer->step(pointers);
    } else {
      float* pointers[] = {gradient.data()};
      optimizer->step(pointers);
    }
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

// ---- SGD -----------------------------------------------------------------------------------

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

// ---- RMSprop -------------------------------------------------------------------------------

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

// ---- the rest of the Keras set ---------------------------------------------------------------

TEST(Adagrad, AccumulatorStartsAtInitialValue) {
  // acc = 0.1 + Σg²; w -= 0.1·g/sqrt(acc + 1e-7)
  expect_trajectory(
      run_three_steps("adagrad", "{learning_rate: 0.1}"),
      {{{0.915484587, -1.904653745}, {0.898817922, -1.923385461}, {0.943539277, -1.95846778}}});
}

TEST(Adadelta, PaperFormWithLearningRateOne) {
  // Eg = 0.95·Eg + 0.05·g²; d = -sqrt(Edx + eps)·g/sqrt(Eg + eps); Edx = 0.95·Edx + 0.05·d²; w += d
  expect_trajectory(
      run_three_steps("adadelta", "{learning_rate: 1.0}"),
      {{{0.998585792, -1.998585788}, {0.998183779, -1.998987802}, {0.999244115, -1.999756249}}});
}

TEST(Adam, BiasCorrectedStepWithEpsilonOutsideTheRoot) {
  // t = k+1; alpha = 0.1·sqrt(1 - 0.999^t)/(1 - 0.9^t); w -= alpha·m/(sqrt(v) + 1e-7)
  expect_trajectory(
      run_three_steps("adam", "{learning_rate: 0.1}"),
      {{{0.900000632, -1.900000316}, {0.819697033, -1.848897867}, {0.79862585, -1.835473946}}});
}

// A large first gradient then small ones make v fall, which is where AMSGrad's max differs.
constexpr std::array<std::array<float, 2>, 3> kFallingGradients = {
    {{2.f, -2.f}, {0.01f, 0.01f}, {0.01f, 0.01f}}};

TEST(Adam, AmsgradKeepsTheLargestVelocity) {
  expect_trajectory(
      run_three_steps("adam", "{learning_rate: 0.1}", kFallingGradients),
      {{{0.900000158, -1.900000158}, {0.832623028, -1.833367526}, {0.780221245, -1.782180672}}});
  expect_trajectory(
      run_three_steps("adam", "{learning_rate: 0.1, amsgrad: true}", kFallingGradients),
      {{{0.900000158, -1.900000158}, {0.832655882, -1.833400018}, {0.78030519, -1.78226307}}});
}

TEST(AdamW, DecaysWeightsByDefault) {
  // Adam after w -= w·0.004·lr (Keras's default weight_decay for AdamW)
  expect_trajectory(
      run_three_steps("adamw", "{learning_rate: 0.1}"),
      {{{0.899600632, -1.899200316}, {0.818937193, -1.847338187}, {0.797538435, -1.83317533}}});
}

TEST(Adamax, InfinityNorm) {
  // m = 0.9·m + 0.1·g; u = max(0.999·u, |g|); w -= 0.1·m/((1 - 0.9^t)(u + eps))
  expect_trajectory(
      run_three_steps("adamax", "{learning_rate: 0.1}"),
      {{{0.90000002, -1.90000001}, {0.842047342, -1.863121029}, {0.827627376, -1.854616946}}});
}

TEST(Nadam, MomentumCacheWithDecayBase0_96) {
  // u(k) = 0.9·(1 - 0.5·0.96^k); u_product *= u(t) once per step; see nadam.cpp
  expect_trajectory(
      run_three_steps("nadam", "{learning_rate: 0.1}"),
      {{{0.893721241, -1.89372123}, {0.866603857, -1.906696394}, {0.912852573, -1.940264436}}});
}

TEST(Lion, StepsBySignOfInterpolatedMomentum) {
  // w -= 0.1·sign(0.9·m + 0.1·g); m = 0.99·m + 0.01·g
  expect_trajectory(run_three_steps("lion", "{learning_rate: 0.1}"),
                    {{{0.9, -1.9}, {0.8, -2.0}, {0.9, -2.1}}});
}

// ---- options every optimizer has -----------------------------------------------------------

TEST(CommonOptions, WeightDecayIsDecoupledAndScaledByTheLearningRate) {
  // w -= w·0.5·0.1, then w -= 0.1·g
  expect_trajectory(run_three_steps("sgd", "{learning_rate: 0.1, weight_decay: 0.5}"),
                    {{{0.9, -1.8}, {0.845, -1.73}, {0.83275, -1.6835}}});
  expect_trajectory(
      run_three_steps("rmsprop", "{learning_rate: 0.01, weight_decay: 0.1}"),
      {{{0.967377287, -1.966377239}, {0.959886643, -1.970934139}, {0.976204096, -1.981574532}}});
}

TEST(CommonOptions, ClipnormClipsEachGradientOnItsOwn) {
  // One parameter [0.5, -1]: norm 1.118 scaled to 0.5.
  expect_trajectory(
      run_three_steps("sgd", "{learning_rate: 0.1, clipnorm: 0.5}"),
      {{{0.97763932, -1.95527864}, {0.96763932, -1.97527864}, {0.99763932, -2.01527864}}});
  // Two one-element parameters: each is clipped to |g| <= 0.5 separately.
  expect_trajectory(run_three_steps("sgd", "{learning_rate: 0.1, clipnorm: 0.5}", kGradients, true),
                    {{{0.95, -1.95}, {0.94, -1.97}, {0.97, -2.01}}});
}

TEST(CommonOptions, GlobalClipnormClipsAllGradientsTogether) {
  // The two one-element parameters share one norm, as the one two-element parameter did.
  expect_trajectory(
      run_three_steps("sgd", "{learning_rate: 0.1, global_clipnorm: 0.5}", kGradients, true),
      {{{0.97763932, -1.95527864}, {0.96763932, -1.97527864}, {0.99763932, -2.01527864}}});
}

TEST(CommonOptions, ClipvalueClampsElements) {
  expect_trajectory(run_three_steps("sgd", "{learning_rate: 0.1, clipvalue: 0.25}"),
                    {{{0.975, -1.975}, {0.965, -1.995}, {0.99, -2.02}}});
}

TEST(CommonOptions, ScheduleDrivesTheStep) {
  // lr = 0.1·0.5^(step/1): 0.1, 0.05, 0.025
  expect_trajectory(run_three_steps("sgd",
                                    "{learning_rate: {exponential_decay: {initial_learning_rate: "
                                    "0.1, decay_steps: 1, decay_rate: 0.5}}}"),
                    {{{0.95, -1.9}, {0.945, -1.91}, {0.9525, -1.92}}});
}

TEST(Optimizer, ExposesItsSlotsByName) {
  auto optimizer = make("rmsprop", "{momentum: 0.5, centered: true}");
  std::array<float, 3> weights{};
  optimizer->bind({{"dense/kernel", std::span<float>(weights)}});
  std::vector<std::string> names;
  for (const OptimizerState& state : optimizer->state()) names.push_back(state.name);
  EXPECT_EQ(names, (std::vector<std::string>{"dense/kernel/velocity", "dense/kernel/momentum",
                                             "dense/kernel/average_gradient"}));
}

TEST(Optimizer, ExposesScalarStateAndTheScheduleState) {
  auto nadam = make("nadam", "{}");
  std::array<float, 2> weights{};
  nadam->bind({{"w", std::span<float>(weights)}});
  std::array<float, 2> gradient = {0.1f, 0.2f};
  float* gradients[] = {gradient.data()};
  nadam->step(gradients);
  const auto scalars = nadam->scalar_state();
  ASSERT_EQ(scalars.size(), 1u);
  EXPECT_EQ(scalars[0].first, "u_product");
  EXPECT_NEAR(*scalars[0].second, 0.9 * (1 - 0.5 * 0.96), 1e-12);  // u(1)

  auto plateau = make(
      "sgd", "{learning_rate: {reduce_on_plateau: {initial_learning_rate: 0.1, monitor: loss}}}");
  std::vector<std::string> names;
  for (const auto& [name, value] : plateau->scalar_state()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"schedule/learning_rate", "schedule/best",
                                             "schedule/has_best", "schedule/wait",
                                             "schedule/cooldown_counter"}));
}

// ---- bad options ---------------------------------------------------------------------------

void expect_option_error(const std::string& name, const std::string& yaml,
                         const std::string& expected) {
  const ConfigNode options = ConfigNode::parse(yaml, "c.yaml");
  try {
    OptimizerRegistry::global().create(read_optimizer_options(name, options));
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
  expect_option_error("lion", "{beta_1: 0}", "beta_1 must be in (0, 1]");
  expect_option_error("adam", "{weight_decay: -0.1}",
                      "weight_decay: expected a number in [0, inf]");
}

TEST(OptimizerRegistry, ClippingOptionsAreMutuallyExclusive) {
  expect_option_error("sgd", "{clipnorm: 1, clipvalue: 1}",
                      "only one of clipnorm, clipvalue and global_clipnorm can be set");
}

TEST(OptimizerRegistry, UnknownOptimizerListsTheKnownOnes) {
  expect_option_error("adamax2", "{}",
                      "unknown optimizer 'adamax2' (known: adadelta, adagrad, adam, adamax, "
                      "adamw, lion, nadam, rmsprop, sgd)");
}

TEST(OptimizerRegistry, UnknownScheduleListsTheKnownOnes) {
  expect_option_error("sgd", "{learning_rate: {exponential: {decay_steps: 1}}}",
                      "unknown schedule 'exponential' (known: cosine_decay, exponential_decay, "
                      "inverse_time_decay, piecewise_constant_decay, polynomial_decay, "
                      "reduce_on_plateau)");
  expect_option_error("sgd", "{learning_rate: {exponential_decay: {initial_learning_rate: 0.1}}}",
                      "the key 'decay_steps' is required");
}

}  // namespace
}  // namespace loom
