// Every op: forward against a naive loop, and every differentiable input's gradient against
// central finite differences through the generated backward graph.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/core/error.hpp"
#include "tests/support/op_expectations.hpp"

namespace loom::testing {
namespace {

// ---- matmul ----------------------------------------------------------------------------

struct MatMulCase {
  bool transpose_a;
  bool transpose_b;
};

class MatMulTest : public ::testing::TestWithParam<MatMulCase> {};

std::vector<float> naive_matmul(const std::vector<float>& a, const std::vector<float>& b, int64_t m,
                                int64_t k, int64_t n, bool ta, bool tb) {
  std::vector<float> y(static_cast<size_t>(m * n), 0.f);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) {
        const float av = ta ? a[size_t(p * m + i)] : a[size_t(i * k + p)];
        const float bv = tb ? b[size_t(j * k + p)] : b[size_t(p * n + j)];
        sum += double(av) * double(bv);
      }
      y[size_t(i * n + j)] = float(sum);
    }
  }
  return y;
}

OpUnderTest matmul_case(const MatMulCase& c, int64_t m, int64_t k, int64_t n) {
  const Shape a_shape = c.transpose_a ? Shape{k, m} : Shape{m, k};
  const Shape b_shape = c.transpose_b ? Shape{n, k} : Shape{k, n};
  return {
      "matmul",
      {{"transpose_a", c.transpose_a}, {"transpose_b", c.transpose_b}},
      {f32_input(a_shape, random_values(m * k, 1)), f32_input(b_shape, random_values(k * n, 2))}};
}

TEST_P(MatMulTest, ForwardMatchesNaiveLoop) {
  const MatMulCase c = GetParam();
  const OpUnderTest test = matmul_case(c, 5, 7, 3);
  const auto outputs = run_forward(test);
  expect_near_all(outputs[0], naive_matmul(test.inputs[0].values, test.inputs[1].values, 5, 7, 3,
                                           c.transpose_a, c.transpose_b));
}

TEST_P(MatMulTest, GradientsMatchFiniteDifferences) {
  expect_gradients_pass(matmul_case(GetParam(), 4, 6, 3));
}

INSTANTIATE_TEST_SUITE_P(AllTransposes, MatMulTest,
                         ::testing::Values(MatMulCase{false, false}, MatMulCase{true, false},
                                           MatMulCase{false, true}, MatMulCase{true, true}),
                         [](const auto& param_info) {
                           return std::string(param_info.param.transpose_a ? "At" : "A") +
                                  (param_info.param.transpose_b ? "Bt" : "B");
                         });

TEST(MatMul, InnerDimensionMismatchNamesTheNodeAndBothShapes) {
  const OpUnderTest test{
      "matmul",
      {},
      {f32_input({2, 3}, random_values(6, 1)), f32_input({4, 5}, random_values(20, 2))}};
  try {
    run_forward(test);
    FAIL() << "expected an error";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("node 'under_test' (matmul)"), std::string::npos) << message;
    EXPECT_NE(message.find("f32[2, 3]"), std::string::npos) << message;
    EXPECT_NE(message.find("f32[4, 5]"), std::string::npos) << message;
  }
}

// ---- fused_matmul -------------------------------------------------------------------------

struct FusedCase {
  bool transpose_a;
  bool relu;
};

class FusedMatMulTest : public ::testing::TestWithParam<FusedCase> {};

OpUnderTest fused_case(const FusedCase& c) {
  constexpr int64_t m = 4, k = 6, n = 3;
  Attributes attributes{{"transpose_a", c.transpose_a}};
  if (c.relu) attributes.set("activation", std::string("relu"));
  // Inputs chosen so that no pre-activation lands within finite-difference reach of 0.
  return {"fused_matmul",
          attributes,
          {f32_input(c.transpose_a ? Shape{k, m} : Shape{m, k}, random_values(m * k, 31)),
           f32_input({k, n}, random_values(k * n, 32)), f32_input({n}, random_values(n, 33))}};
}

TEST_P(FusedMatMulTest, ForwardIsActivationOfMatMulPlusBias) {
  const FusedCase c = GetParam();
  const OpUnderTest test = fused_case(c);
  std::vector<float> expected =
      naive_matmul(test.inputs[0].values, test.inputs[1].values, 4, 6, 3, c.transpose_a, false);
  for (size_t i = 0; i < expected.size(); ++i) {
    expected[i] += test.inputs[2].values[i % 3];
    if (c.relu) expected[i] = std::max(expected[i], 0.f);
  }
  expect_near_all(run_forward(test)[0], expected);
}

TEST_P(FusedMatMulTest, GradientsOfEveryInput) {
  expect_gradients_pass(fused_case(GetParam()), {.step = 1e-3});
}

INSTANTIATE_TEST_SUITE_P(Variants, FusedMatMulTest,
                         ::testing::Values(FusedCase{false, false}, FusedCase{false, true},
                                           FusedCase{true, true}),
                         [](const auto& param_info) {
                           return std::string(param_info.param.transpose_a ? "At" : "A") +
                                  (param_info.param.relu ? "Relu" : "Linear");
                         });

// ---- bias_add ----------------------------------------------------------------------------

TEST(BiasAdd, ForwardBroadcastsOverRows) {
  const OpUnderTest test{
      "bias_add",
      {},
      {f32_input({3, 4}, random_values(12, 3)), f32_input({4}, random_values(4, 4))}};
  std::vector<float> expected(12);
  for (size_t i = 0; i < 12; ++i)
    expected[i] = test.inputs[0].values[i] + test.inputs[1].values[i % 4];
  expect_near_all(run_forward(test)[0], expected);
}

TEST(BiasAdd, Gradients) {
  expect_gradients_pass(
      {"bias_add",
       {},
       {f32_input({3, 4}, random_values(12, 5)), f32_input({4}, random_values(4, 6))}});
}

TEST(BiasAdd, RejectsABiasOfTheWrongLength) {
  const OpUnderTest test{
      "bias_add",
      {},
      {f32_input({3, 4}, random_values(12, 3)), f32_input({5}, random_values(5, 4))}};
  EXPECT_THROW(run_forward(test), InputError);
}

// ---- relu --------------------------------------------------------------------------------

TEST(Relu, Forward) {
  const OpUnderTest test{"relu", {}, {f32_input({4, 5}, random_values(20, 7))}};
  std::vector<float> expected = test.inputs[0].values;
  for (float& v : expected) v = std::max(v, 0.f);
  expect_near_all(run_forward(test)[0], expected);
}

TEST(Relu, Gradients) {
  // Finite differences are meaningless across the kink at 0: keep inputs away from it.
  expect_gradients_pass(
      {"relu", {}, {f32_input({4, 5}, random_values_away_from(20, 8, 0.f, 0.05f))}});
}

// ---- softmax -----------------------------------------------------------------------------

std::vector<float> naive_softmax_rows(const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<float> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = &x[size_t(r * cols)];
    const float max = *std::max_element(row, row + cols);
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(double(row[c] - max));
    for (int64_t c = 0; c < cols; ++c)
      y[size_t(r * cols + c)] = float(std::exp(double(row[c] - max)) / sum);
  }
  return y;
}

TEST(Softmax, ForwardOverTheLastAxis) {
  const OpUnderTest test{"softmax", {}, {f32_input({3, 6}, random_values(18, 9, -4.f, 4.f))}};
  expect_near_all(run_forward(test)[0], naive_softmax_rows(test.inputs[0].values, 3, 6));
}

TEST(Softmax, ForwardOverAxisZero) {
  const std::vector<float> x = random_values(12, 10, -3.f, 3.f);
  const OpUnderTest test{"softmax", {{"axis", int64_t{0}}}, {f32_input({3, 4}, x)}};
  // Transpose, softmax the rows, transpose back.
  std::vector<float> transposed(12);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) transposed[size_t(c * 3 + r)] = x[size_t(r * 4 + c)];
  const std::vector<float> rows = naive_softmax_rows(transposed, 4, 3);
  std::vector<float> expected(12);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) expected[size_t(r * 4 + c)] = rows[size_t(c * 3 + r)];
  expect_near_all(run_forward(test)[0], expected);
}

TEST(LogSoftmax, IsTheLogOfSoftmaxAndStaysFiniteForLargeLogits) {
  const OpUnderTest test{"log_softmax", {}, {f32_input({3, 6}, random_values(18, 9, -4.f, 4.f))}};
  std::vector<float> expected = naive_softmax_rows(test.inputs[0].values, 3, 6);
  for (float& value : expected) value = std::log(value);
  expect_near_all(run_forward(test)[0], expected);
  // log(softmax) underflows to -inf at a gap of 104; log_softmax is the gap itself.
  const OpUnderTest large{"log_softmax", {}, {f32_input({1, 2}, {0.f, 200.f})}};
  expect_near_all(run_forward(large)[0], {-200.f, 0.f});
}

TEST(LogSoftmax, Gradients) {
  expect_gradients_pass({"log_softmax", {}, {f32_input({3, 5}, random_values(15, 13, -2.f, 2.f))}});
  expect_gradients_pass({"log_softmax",
                         {{"axis", int64_t{0}}},
                         {f32_input({3, 5}, random_values(15, 14, -2.f, 2.f))}});
}

TEST(Softmax, Gradients) {
  expect_gradients_pass({"softmax", {}, {f32_input({3, 5}, random_values(15, 11, -2.f, 2.f))}});
  expect_gradients_pass(
      {"softmax", {{"axis", int64_t{0}}}, {f32_input({3, 5}, random_values(15, 12, -2.f, 2.f))}});
}

// ---- add and reduce_sum -------------------------------------------------------------------

TEST(Add, ForwardSumsEveryInput) {
  const OpUnderTest test{
      "add",
      {},
      {f32_input({2, 3}, random_values(6, 13)), f32_input({2, 3}, random_values(6, 14)),
       f32_input({2, 3}, random_values(6, 15))}};
  std::vector<float> expected(6);
  for (size_t i = 0; i < 6; ++i) {
    expected[i] = test.inputs[0].values[i] + test.inputs[1].values[i] + test.inputs[2].values[i];
  }
  expect_near_all(run_forward(test)[0], expected);
}

TEST(Add, Gradients) {
  expect_gradients_pass(
      {"add",
       {},
       {f32_input({2, 3}, random_values(6, 16)), f32_input({2, 3}, random_values(6, 17))}});
}

TEST(ReduceSum, ForwardOverChosenAxes) {
  const std::vector<float> x = random_values(24, 18);
  const OpUnderTest test{
      "reduce_sum", {{"axes", std::vector<int64_t>{0, 2}}}, {f32_input({2, 3, 4}, x)}};
  std::vector<float> expected(3, 0.f);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 3; ++b)
      for (int c = 0; c < 4; ++c) expected[size_t(b)] += x[size_t(a * 12 + b * 4 + c)];
  expect_near_all(run_forward(test)[0], expected);
}

TEST(ReduceSum, ForwardOverLeadingAxes) {
  // The shape autodiff emits for bias gradients, summed by the engine's own loop.
  const std::vector<float> x = random_values(24, 28);
  const OpUnderTest test{
      "reduce_sum", {{"axes", std::vector<int64_t>{0, 1}}}, {f32_input({2, 3, 4}, x)}};
  std::vector<float> expected(4, 0.f);
  for (size_t i = 0; i < 24; ++i) expected[i % 4] += x[i];
  expect_near_all(run_forward(test)[0], expected);
}

// ---- losses ------------------------------------------------------------------------------

constexpr int64_t kBatch = 4, kClasses = 5;

std::vector<float> one_hot(const std::vector<float>& labels, int64_t classes) {
  std::vector<float> rows(labels.size() * size_t(classes), 0.f);
  for (size_t b = 0; b < labels.size(); ++b) rows[b * size_t(classes) + size_t(labels[b])] = 1.f;
  return rows;
}

const std::vector<float> kLabels = {0, 3, 4, 1};

// Keras's formula on probabilities: renormalize, clip to [1e-7, 1 - 1e-7], mean of -Σ y log p.
float keras_crossentropy(const std::vector<float>& p, const std::vector<float>& y) {
  double total = 0;
  for (int64_t b = 0; b < kBatch; ++b) {
    double sum = 0;
    for (int64_t c = 0; c < kClasses; ++c) sum += p[size_t(b * kClasses + c)];
    for (int64_t c = 0; c < kClasses; ++c) {
      const double q = std::clamp(p[size_t(b * kClasses + c)] / sum, 1e-7, 1 - 1e-7);
      total -= y[size_t(b * kClasses + c)] * std::log(q);
    }
  }
  return float(total / kBatch);
}

TEST(CategoricalCrossentropy, ForwardMatchesKerasFormula) {
  const std::vector<float> p = random_values(kBatch * kClasses, 20, 0.05f, 1.f);
  const OpUnderTest test{"categorical_crossentropy",
                         {},
                         {f32_input({kBatch, kClasses}, p),
                          f32_input({kBatch, kClasses}, one_hot(kLabels, kClasses), false)}};
  EXPECT_NEAR(run_forward(test)[0][0], keras_crossentropy(p, one_hot(kLabels, kClasses)), 1e-5);
}

TEST(CategoricalCrossentropy, Gradients) {
  // Unnormalized positive inputs exercise the renormalization's share of the gradient.
  expect_gradients_pass(
      {"categorical_crossentropy",
       {},
       {f32_input({kBatch, kClasses}, random_values(kBatch * kClasses, 21, 0.2f, 1.f)),
        f32_input({kBatch, kClasses}, one_hot(kLabels, kClasses), false)}},
      {.step = 1e-3});
}

TEST(SparseCategoricalCrossentropy, ForwardEqualsDenseOnOneHot) {
  const std::vector<float> p = random_values(kBatch * kClasses, 22, 0.05f, 1.f);
  const OpUnderTest test{"sparse_categorical_crossentropy",
                         {},
                         {f32_input({kBatch, kClasses}, p), i32_input({kBatch}, kLabels)}};
  EXPECT_NEAR(run_forward(test)[0][0], keras_crossentropy(p, one_hot(kLabels, kClasses)), 1e-5);
}

TEST(SparseCategoricalCrossentropy, Gradients) {
  expect_gradients_pass(
      {"sparse_categorical_crossentropy",
       {},
       {f32_input({kBatch, kClasses}, random_values(kBatch * kClasses, 23, 0.2f, 1.f)),
        i32_input({kBatch}, kLabels)}},
      {.step = 1e-3});
}

TEST(SoftmaxCrossentropy, ForwardGivesProbabilitiesAndLoss) {
  const std::vector<float> logits = random_values(kBatch * kClasses, 24, -3.f, 3.f);
  for (const bool sparse : {false, true}) {
    const OpUnderTest test{
        "softmax_crossentropy",
        {},
        {f32_input({kBatch, kClasses}, logits),
         sparse ? i32_input({kBatch}, kLabels)
                : f32_input({kBatch, kClasses}, one_hot(kLabels, kClasses), false)}};
    const auto outputs = run_forward(test);
    const std::vector<float> p = naive_softmax_rows(logits, kBatch, kClasses);
    expect_near_all(outputs[0], p);
    EXPECT_NEAR(outputs[1][0], keras_crossentropy(p, one_hot(kLabels, kClasses)), 1e-5);
  }
}

TEST(SoftmaxCrossentropy, StaysFiniteForExtremeLogits) {
  std::vector<float> logits(kBatch * kClasses, 0.f);
  logits[0] = 1000.f;  // sample 0 is certain of class 0, and labelled 0
  logits[6] = -1000.f;
  const OpUnderTest test{"softmax_crossentropy",
                         {},
                         {f32_input({kBatch, kClasses}, logits), i32_input({kBatch}, kLabels)}};
  const float loss = run_forward(test)[1][0];
  EXPECT_TRUE(std::isfinite(loss));
}

TEST(SoftmaxCrossentropy, Gradients) {
  for (const bool sparse : {false, true}) {
    expect_gradients_pass(
        {"softmax_crossentropy",
         {},
         {f32_input({kBatch, kClasses}, random_values(kBatch * kClasses, 25, -2.f, 2.f)),
          sparse ? i32_input({kBatch}, kLabels)
                 : f32_input({kBatch, kClasses}, one_hot(kLabels, kClasses), false)}});
  }
}

TEST(SoftmaxCrossentropy, GradientsForTargetsThatAreNotADistribution) {
  // Label smoothing or raw scores: rows that do not sum to 1 still get the exact gradient.
  expect_gradients_pass(
      {"softmax_crossentropy",
       {},
       {f32_input({kBatch, kClasses}, random_values(kBatch * kClasses, 29, -2.f, 2.f)),
        f32_input({kBatch, kClasses}, random_values(kBatch * kClasses, 30, 0.f, 1.f), false)}});
}

TEST(Crossentropy, RejectsTargetsOfTheWrongShape) {
  const OpUnderTest test{
      "categorical_crossentropy",
      {},
      {f32_input({kBatch, kClasses}, random_values(kBatch * kClasses, 26)),
       f32_input({kBatch, kClasses + 1}, random_values(kBatch * (kClasses + 1), 27), false)}};
  EXPECT_THROW(run_forward(test), InputError);
}

}  // namespace
}  // namespace loom::testing
