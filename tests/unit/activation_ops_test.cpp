// The element-wise activation ops (ops/tanh.cpp, leaky_relu, elu, gelu, swish/silu, softplus,
// exp, log, sqrt): each forward against a naive loop of Keras's formula, and each gradient
// against central finite differences through the generated backward graph, with default and
// non-default parameters.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <ostream>

#include "engine/core/error.hpp"
#include "tests/support/op_expectations.hpp"

namespace loom::testing {
namespace {

// ---- the formulas, as Keras defines them ------------------------------------------------

double sigmoid(double x) {
  return 1 / (1 + std::exp(-x));
}

double gelu_erf(double x) {
  return 0.5 * x * (1 + std::erf(x / std::numbers::sqrt2));
}

double gelu_tanh(double x) {
  const double c = std::sqrt(2 / std::numbers::pi);
  return 0.5 * x * (1 + std::tanh(c * (x + 0.044715 * x * x * x)));
}

std::function<double(double)> leaky_relu(double slope) {
  return [slope](double x) { return x > 0 ? x : slope * x; };
}

std::function<double(double)> elu(double alpha) {
  return [alpha](double x) { return x > 0 ? x : alpha * (std::exp(x) - 1); };
}

std::vector<float> apply_formula(const std::function<double(double)>& formula,
                                 const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = float(formula(double(x[i])));
  return y;
}

// ---- one case per op and parameter set ----------------------------------------------------

struct ActivationCase {
  std::string label;  // the test's name
  std::string op;
  Attributes attributes;
  std::function<double(double)> formula;
  std::vector<float> forward_inputs;
  // Where central differences are valid: away from kinks, inside the domain.
  std::vector<float> gradient_inputs;
};

void PrintTo(const ActivationCase& c, std::ostream* out) {
  *out << c.label;
}

constexpr int64_t kCount = 24;  // elements per test tensor, shaped {4, 6}

// Forward inputs: a random spread plus fixed points (0, the domain's edges).
std::vector<float> spread(uint64_t seed, float low, float high, std::vector<float> fixed = {}) {
  std::vector<float> values = random_values(kCount - std::ssize(fixed), seed, low, high);
  values.insert(values.end(), fixed.begin(), fixed.end());
  return values;
}

// [-scale, scale] with every value at least 0.05·scale away from 0 (the kink).
std::vector<float> away_from_zero(uint64_t seed, float scale) {
  std::vector<float> values = random_values_away_from(kCount, seed, 0.f, 0.05f);
  for (float& v : values) v *= scale;
  return values;
}

std::vector<ActivationCase> cases() {
  return {
      {"Tanh",
       "tanh",
       {},
       [](double x) { return std::tanh(x); },
       spread(1, -4, 4, {0.f, 10.f, -10.f}),
       random_values(kCount, 2, -2, 2)},
      {"LeakyReluDefaultSlope",
       "leaky_relu",
       {},
       leaky_relu(0.2),
       spread(3, -3, 3, {0.f}),
       away_from_zero(4, 2)},
      {"LeakyReluSlope0_1",
       "leaky_relu",
       {{"negative_slope", 0.1}},
       leaky_relu(0.1),
       spread(5, -3, 3, {0.f}),
       away_from_zero(6, 2)},
      {"LeakyReluNegativeSlope",
       "leaky_relu",
       {{"negative_slope", -0.5}},
       leaky_relu(-0.5),
       spread(7, -3, 3, {0.f}),
       away_from_zero(8, 2)},
      {"EluDefaultAlpha",
       "elu",
       {},
       elu(1.0),
       spread(9, -4, 4, {0.f, -10.f}),
       away_from_zero(10, 2)},
      {"EluAlpha0_5",
       "elu",
       {{"alpha", 0.5}},
       elu(0.5),
       spread(11, -4, 4, {0.f, -10.f}),
       away_from_zero(12, 2)},
      {"GeluDefaultIsErf",
       "gelu",
       {},
       gelu_erf,
       spread(13, -4, 4, {0.f, -8.f, 8.f}),
       random_values(kCount, 14, -3, 3)},
      {"GeluApproximateFalseIsErf",
       "gelu",
       {{"approximate", false}},
       gelu_erf,
       spread(15, -4, 4, {0.f}),
       random_values(kCount, 16, -3, 3)},
      {"GeluApproximateIsTanh",
       "gelu",
       {{"approximate", true}},
       gelu_tanh,
       spread(17, -4, 4, {0.f, -8.f, 8.f}),
       random_values(kCount, 18, -3, 3)},
      {"Swish",
       "swish",
       {},
       [](double x) { return x * sigmoid(x); },
       spread(19, -6, 6, {0.f, -20.f, 20.f}),
       random_values(kCount, 20, -3, 3)},
      {"Silu",
       "silu",
       {},
       [](double x) { return x * sigmoid(x); },
       spread(21, -6, 6, {0.f, -20.f, 20.f}),
       random_values(kCount, 22, -3, 3)},
      {"Softplus",
       "softplus",
       {},
       [](double x) { return std::log(1 + std::exp(x)); },
       spread(23, -8, 8, {0.f, -20.f, 20.f, 100.f}),
       random_values(kCount, 24, -3, 3)},
      {"Exp",
       "exp",
       {},
       [](double x) { return std::exp(x); },
       spread(25, -5, 5, {0.f}),
       random_values(kCount, 26, -2, 2)},
      {"Log",
       "log",
       {},
       [](double x) { return std::log(x); },
       spread(27, 0.01f, 20, {1.f, 1e-4f}),
       random_values(kCount, 28, 0.5f, 3)},
      {"Sqrt",
       "sqrt",
       {},
       [](double x) { return std::sqrt(x); },
       spread(29, 0.01f, 20, {0.f, 1.f, 1e-4f}),
       random_values(kCount, 30, 0.5f, 4)},
  };
}

class ActivationTest : public ::testing::TestWithParam<ActivationCase> {};

TEST_P(ActivationTest, ForwardMatchesKerasFormula) {
  const ActivationCase& c = GetParam();
  const OpUnderTest test{c.op, c.attributes, {f32_input({4, 6}, c.forward_inputs)}};
  expect_near_all(run_forward(test)[0], apply_formula(c.formula, c.forward_inputs));
}

TEST_P(ActivationTest, GradientMatchesFiniteDifferences) {
  const ActivationCase& c = GetParam();
  expect_gradients_pass({c.op, c.attributes, {f32_input({4, 6}, c.gradient_inputs)}});
}

INSTANTIATE_TEST_SUITE_P(Ops, ActivationTest, ::testing::ValuesIn(cases()),
                         [](const auto& param_info) { return param_info.param.label; });

// ---- what the table does not say ---------------------------------------------------------

// The gelu cases above can only tell the two forms apart if the forms differ on their inputs
// by more than the forward tolerance.
TEST(Gelu, TestInputsSeparateTheErfAndTanhForms) {
  const std::vector<float> x = spread(17, -4, 4, {0.f, -8.f, 8.f});
  double widest = 0;
  for (float v : x) widest = std::max(widest, std::abs(gelu_erf(v) - gelu_tanh(v)));
  EXPECT_GT(widest, 1e-4);
}

TEST(Silu, IsSwishUnderAnotherName) {
  const std::vector<float> x = random_values(kCount, 40, -6, 6);
  EXPECT_EQ(run_forward({"silu", {}, {f32_input({4, 6}, x)}})[0],
            run_forward({"swish", {}, {f32_input({4, 6}, x)}})[0]);
}

// oneDNN computes elu's gradient from the output, which a negative alpha makes ambiguous: the
// op says so when the graph is built, naming the node, instead of failing inside oneDNN.
TEST(Elu, RejectsANegativeAlphaNamingTheNode) {
  const OpUnderTest test{"elu", {{"alpha", -0.5}}, {f32_input({4, 6}, random_values(kCount, 41))}};
  try {
    run_forward(test);
    FAIL() << "expected an error";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("node 'under_test' (elu)"), std::string::npos) << message;
    EXPECT_NE(message.find("alpha must be >= 0"), std::string::npos) << message;
  }
}

TEST(Elu, AcceptsAZeroAlpha) {
  const std::vector<float> x = spread(42, -3, 3, {0.f});
  expect_near_all(run_forward({"elu", {{"alpha", 0.0}}, {f32_input({4, 6}, x)}})[0],
                  apply_formula(elu(0.0), x));
}

// The config loader checks attribute types; a graph built in code gets the same check from the
// op, with the node's name.
TEST(LeakyRelu, RejectsASlopeOfTheWrongType) {
  const OpUnderTest test{"leaky_relu",
                         {{"negative_slope", std::string("0.1")}},
                         {f32_input({4, 6}, random_values(kCount, 43))}};
  try {
    run_forward(test);
    FAIL() << "expected an error";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("node 'under_test' (leaky_relu)"), std::string::npos) << message;
    EXPECT_NE(message.find("negative_slope"), std::string::npos) << message;
  }
}

TEST(LeakyRelu, AcceptsAnIntegerSlope) {
  const std::vector<float> x = spread(44, -3, 3, {0.f});
  expect_near_all(
      run_forward({"leaky_relu", {{"negative_slope", int64_t{2}}}, {f32_input({4, 6}, x)}})[0],
      apply_formula(leaky_relu(2.0), x));
}

}  // namespace
}  // namespace loom::testing
