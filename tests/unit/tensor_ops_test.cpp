// Broadcasting arithmetic, reductions, shape ops, dropout and the element-wise losses:
// forward against naive loops, gradients against finite differences (op_harness).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/core/error.hpp"
#include "tests/support/op_expectations.hpp"

namespace loom::testing {
namespace {

// ---- broadcasting binary ops -----------------------------------------------------------------

struct BinaryCase {
  std::string op;
  Shape a, b;
};

float reference(const std::string& op, float a, float b) {
  if (op == "add") return a + b;
  if (op == "sub") return a - b;
  if (op == "mul") return a * b;
  return a / b;
}

// out[i, j, k] for a of shape [2, 3, 4] broadcast patterns, by explicit index arithmetic.
std::vector<float> naive_broadcast(const std::string& op, const std::vector<float>& a,
                                   const Shape& a_shape, const std::vector<float>& b,
                                   const Shape& b_shape, const Shape& out) {
  auto offset = [&](const Shape& shape, const std::vector<int64_t>& index) {
    const size_t skip = out.size() - shape.size();
    int64_t position = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      position = position * shape[d] + (shape[d] == 1 ? 0 : index[skip + d]);
    }
    return position;
  };
  std::vector<float> y(size_t(numel(out)));
  std::vector<int64_t> index(out.size(), 0);
  for (size_t i = 0; i < y.size(); ++i) {
    int64_t rest = int64_t(i);
    for (size_t d = out.size(); d-- > 0;) {
      index[d] = rest % out[d];
      rest /= out[d];
    }
    y[i] = reference(op, a[size_t(offset(a_shape, index))], b[size_t(offset(b_shape, index))]);
  }
  return y;
}

class BroadcastTest : public ::testing::TestWithParam<BinaryCase> {};

OpUnderTest binary_case(const BinaryCase& c) {
  // Divisors are kept away from 0.
  const std::vector<float> b =
      c.op == "div" ? random_values(numel(c.b), 52, 0.5f, 2.f) : random_values(numel(c.b), 52);
  return {c.op, {}, {f32_input(c.a, random_values(numel(c.a), 51)), f32_input(c.b, b)}};
}

TEST_P(BroadcastTest, ForwardMatchesNaiveIndexing) {
  const BinaryCase c = GetParam();
  const OpUnderTest test = binary_case(c);
  const auto outputs = run_forward(test);
  Shape out = c.a.size() >= c.b.size() ? c.a : c.b;
  for (size_t d = 0; d < std::min(c.a.size(), c.b.size()); ++d) {
    out[out.size() - 1 - d] = std::max(c.a[c.a.size() - 1 - d], c.b[c.b.size() - 1 - d]);
  }
  expect_near_all(outputs[0], naive_broadcast(c.op, test.inputs[0].values, c.a,
                                              test.inputs[1].values, c.b, out));
}

TEST_P(BroadcastTest, GradientsOfBothOperands) {
  expect_gradients_pass(binary_case(GetParam()), {.step = 1e-3});
}

INSTANTIATE_TEST_SUITE_P(
    Ops, BroadcastTest,
    ::testing::Values(BinaryCase{"add", {2, 3}, {2, 3}}, BinaryCase{"add", {2, 3, 4}, {4}},
                      BinaryCase{"add", {3, 1}, {2, 3, 4}}, BinaryCase{"sub", {2, 3, 4}, {3, 1}},
                      BinaryCase{"sub", {4}, {2, 3, 4}}, BinaryCase{"mul", {2, 1, 4}, {3, 1}},
                      BinaryCase{"mul", {2, 3}, {2, 3}}, BinaryCase{"div", {2, 3, 4}, {1, 4}},
                      BinaryCase{"div", {1, 3, 1}, {2, 3, 4}}),
    [](const auto& param_info) {
      std::string name = param_info.param.op;
      for (int64_t d : param_info.param.a) name += "_" + std::to_string(d);
      name += "_by";
      for (int64_t d : param_info.param.b) name += "_" + std::to_string(d);
      return name;
    });

TEST(Broadcast, IncompatibleShapesNameBoth) {
  try {
    run_forward(
        {"add", {}, {f32_input({2, 3}, random_values(6, 1)), f32_input({4}, random_values(4, 2))}});
    FAIL();
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("shapes [2, 3] and [4] do not broadcast"),
              std::string::npos)
        << error.what();
  }
}

// ---- reductions ------------------------------------------------------------------------------

TEST(Reductions, SumGradientSpreadsOverTheReducedAxes) {
  expect_gradients_pass({"reduce_sum",
                         {{"axes", std::vector<int64_t>{0, 2}}},
                         {f32_input({2, 3, 4}, random_values(24, 61))}});
  expect_gradients_pass({"reduce_sum",
                         {{"axes", std::vector<int64_t>{-1}}},
                         {f32_input({3, 5}, random_values(15, 62))}});
}

TEST(Reductions, MeanForwardAndGradient) {
  const std::vector<float> x = random_values(24, 63);
  const OpUnderTest test{
      "reduce_mean", {{"axes", std::vector<int64_t>{1}}}, {f32_input({2, 3, 4}, x)}};
  std::vector<float> expected(8, 0.f);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c) expected[size_t(a * 4 + c)] += x[size_t(a * 12 + b * 4 + c)] / 3;
  expect_near_all(run_forward(test)[0], expected);
  expect_gradients_pass(test);
}

// ---- shape ops ---------------------------------------------------------------------------------

TEST(ShapeOps, ReshapeInfersOneDimensionAndRoundTripsGradients) {
  const OpUnderTest test{"reshape",
                         {{"shape", std::vector<int64_t>{-1, 6}}},
                         {f32_input({2, 3, 2}, random_values(12, 64))}};
  expect_near_all(run_forward(test)[0], test.inputs[0].values);
  expect_gradients_pass(test);
  EXPECT_THROW(run_forward({"reshape",
                            {{"shape", std::vector<int64_t>{5, -1}}},
                            {f32_input({2, 3, 2}, random_values(12, 64))}}),
               InputError);
}

TEST(ShapeOps, Flatten) {
  const OpUnderTest test{"flatten", {}, {f32_input({2, 3, 4}, random_values(24, 65))}};
  expect_near_all(run_forward(test)[0], test.inputs[0].values);
  expect_gradients_pass(test);
}

TEST(ShapeOps, TransposeWithAPermutation) {
  const std::vector<float> x = random_values(24, 66);
  const OpUnderTest test{
      "transpose", {{"perm", std::vector<int64_t>{2, 0, 1}}}, {f32_input({2, 3, 4}, x)}};
  std::vector<float> expected(24);  // y[c, a, b] = x[a, b, c], y is [4, 2, 3]
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c)
        expected[size_t(c * 6 + a * 3 + b)] = x[size_t(a * 12 + b * 4 + c)];
  expect_near_all(run_forward(test)[0], expected);
  expect_gradients_pass(test);
  // The default reverses the axes: a matrix transpose.
  const OpUnderTest matrix{"transpose", {}, {f32_input({2, 3}, random_values(6, 67))}};
  const auto y = run_forward(matrix)[0];
  EXPECT_FLOAT_EQ(y[1], matrix.inputs[0].values[3]);  // y[0, 1] = x[1, 0]
}

TEST(ShapeOps, ConcatAlongAnAxis) {
  const std::vector<float> a = random_values(6, 68), b = random_values(4, 69);
  const OpUnderTest test{
      "concat", {{"axis", int64_t{1}}}, {f32_input({2, 3}, a), f32_input({2, 2}, b)}};
  const std::vector<float> expected = {a[0], a[1], a[2], b[0], b[1], a[3], a[4], a[5], b[2], b[3]};
  expect_near_all(run_forward(test)[0], expected);
  expect_gradients_pass(test);
  EXPECT_THROW(run_forward({"concat",
                            {{"axis", int64_t{1}}},
                            {f32_input({2, 3}, a), f32_input({3, 2}, random_values(6, 1))}}),
               InputError);
}

// ---- dropout ----------------------------------------------------------------------------------

TEST(Dropout, TrainingDropsTheRateAndScalesTheRest) {
  const int64_t count = 20000;
  const std::vector<float> x(size_t(count), 1.f);
  const OpUnderTest test{"dropout",
                         {{"rate", 0.25}, {"seed", int64_t{7}}},
                         {f32_input({count}, x)},
                         /*training=*/true};
  const auto outputs = run_forward(test);
  int64_t dropped = 0;
  for (int64_t i = 0; i < count; ++i) {
    const float y = outputs[0][size_t(i)], mask = outputs[1][size_t(i)];
    EXPECT_FLOAT_EQ(y, mask);  // x is 1
    EXPECT_TRUE(mask == 0.f || std::abs(mask - 1.f / 0.75f) < 1e-6f);
    dropped += mask == 0.f;
  }
  EXPECT_NEAR(double(dropped) / double(count), 0.25, 0.02);
  // The same seed gives the same mask; the gradient dy ⊙ mask is mul's (tested above).
  EXPECT_EQ(run_forward(test)[1], outputs[1]);
}

TEST(Dropout, IsTheIdentityOutsideTraining) {
  const OpUnderTest test{"dropout", {{"rate", 0.5}}, {f32_input({3, 4}, random_values(12, 70))}};
  expect_near_all(run_forward(test)[0], test.inputs[0].values, 0.f);
  EXPECT_THROW(run_forward({"dropout", {{"rate", 1.0}}, {f32_input({2}, {1, 2})}}), InputError);
}

// ---- element-wise losses ----------------------------------------------------------------------

struct LossCase {
  std::string op;
  Attributes attributes;
  float (*formula)(float p, float y);
  bool probabilities;  // keep p in (0, 1)
};

class ElementwiseLossTest : public ::testing::TestWithParam<LossCase> {};

OpUnderTest loss_case(const LossCase& c) {
  const std::vector<float> p = c.probabilities ? random_values(12, 71, 0.05f, 0.95f)
                                               : random_values_away_from(12, 71, 0.f, 0.f);
  // Targets away from the predictions, so |p - y| stays clear of the kinks of mae and huber.
  std::vector<float> y = random_values(12, 72, 0.f, 1.f);
  if (!c.probabilities) {
    for (size_t i = 0; i < y.size(); ++i) y[i] = p[i] + (i % 2 ? 0.4f : -1.7f);
  }
  return {c.op, c.attributes, {f32_input({3, 4}, p), f32_input({3, 4}, y, false)}};
}

TEST_P(ElementwiseLossTest, ForwardIsTheMeanOfTheFormula) {
  const LossCase c = GetParam();
  const OpUnderTest test = loss_case(c);
  double total = 0;
  for (size_t i = 0; i < 12; ++i)
    total += c.formula(test.inputs[0].values[i], test.inputs[1].values[i]);
  EXPECT_NEAR(run_forward(test)[0][0], total / 12, 1e-5);
}

TEST_P(ElementwiseLossTest, Gradient) {
  expect_gradients_pass(loss_case(GetParam()), {.step = 1e-3});
}

INSTANTIATE_TEST_SUITE_P(
    Losses, ElementwiseLossTest,
    ::testing::Values(
        LossCase{
            "mean_squared_error", {}, [](float p, float y) { return (p - y) * (p - y); }, false},
        LossCase{
            "mean_absolute_error", {}, [](float p, float y) { return std::abs(p - y); }, false},
        LossCase{"huber",
                 {{"delta", 1.0}},
                 [](float p, float y) {
                   const float e = std::abs(p - y);
                   return e <= 1 ? 0.5f * e * e : e - 0.5f;
                 },
                 false},
        LossCase{"binary_crossentropy",
                 {},
                 [](float p, float y) { return -(y * std::log(p) + (1 - y) * std::log(1 - p)); },
                 true},
        LossCase{"binary_crossentropy",
                 {{"from_logits", true}},
                 [](float x, float y) {
                   const float p = 1 / (1 + std::exp(-x));
                   return -(y * std::log(p) + (1 - y) * std::log(1 - p));
                 },
                 false}),
    [](const auto& param_info) {
      return param_info.param.op +
             (param_info.param.attributes.has("from_logits") ? "_logits" : "");
    });

TEST(ElementwiseLoss, RejectsTargetsOfAnotherShape) {
  EXPECT_THROW(run_forward({"mean_squared_error",
                            {},
                            {f32_input({2, 3}, random_values(6, 1)),
                             f32_input({3, 2}, random_values(6, 2), false)}}),
               InputError);
}

}  // namespace
}  // namespace loom::testing
