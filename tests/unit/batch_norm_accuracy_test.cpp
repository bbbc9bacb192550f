// Batch normalization at a convnet's real size (64 images of 26×26×32 activations: 43,264
// values per channel), on activations offset like a biased convolution's output, where summing
// a channel in float32 loses digits. The batch statistics, the normalized output, the moving
// averages and the first step's gradient of the convolution before the batch norm are compared
// with float64 computed here in plain loops, with the activations arriving in oneDNN's blocked
// format (from a convolution) and plain.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "engine/exec/plan.hpp"
#include "engine/graph/autodiff.hpp"
#include "tests/support/op_harness.hpp"

namespace loom::testing {
namespace {

struct Size {
  int64_t n, h, w, c;
  int64_t rows() const { return n * h * w; }
  int64_t numel() const { return rows() * c; }
};
constexpr Size kBatch{64, 26, 26, 32};
// Channels that do not fill oneDNN's blocks of 16 (the blocked buffer pads them).
constexpr Size kPadded{16, 12, 12, 20};
constexpr double kEpsilon = 1e-3;

// A convolution's output with a bias: per channel an offset of 8 to 16 plus noise.
std::vector<float> activations(const Size& s) {
  std::vector<float> x = random_values(s.numel(), 21, -1.f, 1.f);
  for (int64_t r = 0; r < s.rows(); ++r)
    for (int64_t c = 0; c < s.c; ++c) {
      x[size_t(r * s.c + c)] =
          8.f + 0.25f * float(c) + (0.2f + 0.05f * float(c)) * x[size_t(r * s.c + c)];
    }
  return x;
}

struct Statistics {
  std::vector<double> mean, variance;
};

// Per channel of channels-last rows, in double, two passes (the biased variance).
Statistics statistics_of(std::span<const double> x, int64_t channels) {
  const int64_t rows = std::ssize(x) / channels;
  Statistics s{std::vector<double>(size_t(channels)), std::vector<double>(size_t(channels))};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c) s.mean[size_t(c)] += x[size_t(r * channels + c)];
  for (double& m : s.mean) m /= double(rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c) {
      s.variance[size_t(c)] += std::pow(x[size_t(r * channels + c)] - s.mean[size_t(c)], 2);
    }
  for (double& v : s.variance) v /= double(rows);
  return s;
}

double worst_relative(std::span<const float> value, std::span<const double> expected) {
  double worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    worst = std::max(worst, std::abs(value[i] - expected[i]) / std::abs(expected[i]));
  }
  return worst;
}

// Worst error relative to the largest expected element (a gradient's small elements are
// differences of large sums; their own relative error says little about the update).
double worst_relative_to_largest(std::span<const float> value, std::span<const double> expected) {
  double largest = 0, worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    largest = std::max(largest, std::abs(expected[i]));
    worst = std::max(worst, std::abs(value[i] - expected[i]));
  }
  return worst / largest;
}

std::vector<float> read(const Plan& plan, ValueId v) {
  const float* data = plan.f32(v);
  return {data, data + plan.graph().value(v).type.numel()};
}

// gamma, beta and the moving statistics of one batch_norm node named "bn".
std::vector<ValueId> batch_norm(Graph& graph, ValueId x, int64_t channels) {
  const TensorType per_channel{DType::f32, {channels}};
  const ValueId gamma = graph.add_parameter("bn/gamma", per_channel, {"ones"});
  const ValueId beta = graph.add_parameter("bn/beta", per_channel, {"zeros"});
  const ValueId mean = graph.add_parameter("bn/moving_mean", per_channel, {"zeros"}, false);
  const ValueId variance = graph.add_parameter("bn/moving_variance", per_channel, {"ones"}, false);
  return graph.add_node("bn", "batch_norm", {x, gamma, beta, mean, variance},
                        {{"momentum", 0.9}, {"epsilon", kEpsilon}});
}

void set(ParameterStore& store, const std::string& name, std::span<const float> values) {
  std::ranges::copy(values, store.at(name).begin());
}

// ---- the batch statistics ---------------------------------------------------------------------

enum class Arrival {
  blocked,  // from a convolution, in the format oneDNN chose for it
  nhwc,     // plain [N, H, W, C]
  rows,     // plain [N·H·W, C]
};

struct StatisticsCase {
  Arrival arrival;
  Size size;
};

class BatchStatistics : public ::testing::TestWithParam<StatisticsCase> {};

TEST_P(BatchStatistics, MatchFloat64AndFeedTheMovingAverages) {
  const auto [arrival, s] = GetParam();
  const std::vector<float> x = activations(s);
  Graph graph;
  const Shape shape = arrival == Arrival::rows ? Shape{s.rows(), s.c} : Shape{s.n, s.h, s.w, s.c};
  ValueId h = graph.add_input("x", {DType::f32, shape});
  if (arrival == Arrival::blocked) {
    // A 1×1 convolution by the identity copies x exactly (products by 1, sums with 0) into
    // the convolution's own format.
    const ValueId identity = graph.add_parameter("identity", {DType::f32, {1, 1, s.c, s.c}}, {});
    h = graph.add_node1("copy", "conv2d", {h, identity});
  }
  const std::vector<ValueId> bn = batch_norm(graph, h, s.c);
  for (ValueId v : bn) graph.add_output(v);
  graph.set_training(true);

  ParameterStore store;
  store.initialize_from(graph, 1);
  if (arrival == Arrival::blocked) {
    const std::span<float> identity = store.at("identity");
    for (int64_t c = 0; c < s.c; ++c) identity[size_t(c * s.c + c)] = 1.f;
  }
  const std::vector<float> gamma = random_values(s.c, 22, 0.5f, 1.5f);
  const std::vector<float> beta = random_values(s.c, 23, -1.f, 1.f);
  const std::vector<float> moving_mean = random_values(s.c, 24, 0.f, 1.f);
  const std::vector<float> moving_variance = random_values(s.c, 25, 1.f, 2.f);
  set(store, "bn/gamma", gamma);
  set(store, "bn/beta", beta);
  set(store, "bn/moving_mean", moving_mean);
  set(store, "bn/moving_variance", moving_variance);
  Runtime runtime;
  runtime.layouts = arrival == Arrival::blocked ? LayoutPolicy::negotiated : LayoutPolicy::plain;
  Plan plan(graph, store, runtime);
  if (arrival == Arrival::blocked && has_direct_convolutions()) {
    ASSERT_FALSE(plan.layout(h).is_plain()) << "the convolution's output should arrive blocked";
  }
  std::ranges::copy(x, plan.f32(graph.value_named("x")));
  plan.run();

  const std::vector<double> exact(x.begin(), x.end());
  const Statistics expected = statistics_of(exact, s.c);
  const double mean_error = worst_relative(read(plan, bn[1]), expected.mean);
  const double variance_error = worst_relative(read(plan, bn[2]), expected.variance);
  std::vector<double> expected_y(exact.size());
  for (size_t i = 0; i < exact.size(); ++i) {
    const size_t c = i % size_t(s.c);
    expected_y[i] =
        gamma[c] * (exact[i] - expected.mean[c]) / std::sqrt(expected.variance[c] + kEpsilon) +
        beta[c];
  }
  const std::vector<float> y = read(plan, bn[0]);
  double y_error = 0;
  for (size_t i = 0; i < y.size(); ++i) y_error = std::max(y_error, std::abs(y[i] - expected_y[i]));
  std::printf("batch statistics: mean %.2e, variance %.2e relative; y %.2e absolute\n", mean_error,
              variance_error, y_error);
  EXPECT_LE(mean_error, 1e-6);
  EXPECT_LE(variance_error, 1e-6);
  // oneDNN normalizes in float32 with the statistics rounded to float32: a few 1e-6 at these
  // offsets (float32 batch sums put it near 3e-4).
  EXPECT_LE(y_error, 1e-5);

  // moving = momentum·moving + (1 - momentum)·batch, from the accurate batch statistics.
  std::vector<double> expected_moving_mean(size_t(s.c)), expected_moving_variance(size_t(s.c));
  for (size_t c = 0; c < size_t(s.c); ++c) {
    expected_moving_mean[c] = 0.9 * moving_mean[c] + 0.1 * expected.mean[c];
    expected_moving_variance[c] = 0.9 * moving_variance[c] + 0.1 * expected.variance[c];
  }
  EXPECT_LE(worst_relative(store.at("bn/moving_mean"), expected_moving_mean), 1e-6);
  EXPECT_LE(worst_relative(store.at("bn/moving_variance"), expected_moving_variance), 1e-6);
}

std::string size_name(const Size& s) {
  return std::to_string(s.n) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w) + "x" +
         std::to_string(s.c);
}

std::string statistics_case_name(const ::testing::TestParamInfo<StatisticsCase>& param) {
  static const char* const kArrivals[] = {"Blocked", "Nhwc", "Rows"};
  return kArrivals[int(param.param.arrival)] + size_name(param.param.size);
}

INSTANTIATE_TEST_SUITE_P(Layouts, BatchStatistics,
                         ::testing::Values(StatisticsCase{Arrival::blocked, kBatch},
                                           StatisticsCase{Arrival::nhwc, kBatch},
                                           StatisticsCase{Arrival::rows, kBatch},
                                           StatisticsCase{Arrival::blocked, kPadded}),
                         statistics_case_name);

// ---- the first training step ------------------------------------------------------------------

// image [N, H+2, W+2, 3] in [0, 1] → conv2d 3×3 with a bias of 8 to 16 → batch_norm →
// mean_squared_error against targets: the gradients of the first step. The images are positive,
// as real ones are, so dkernel = Σ image·dz multiplies any error in dz's per-channel mean (which
// is exactly zero) by the sum of the images: the float32 sums' percents came from there.
struct FirstStep {
  Size size;
  std::vector<float> image, kernel, bias, gamma, beta, targets;

  explicit FirstStep(Size s)
      : size(s),
        image(random_values(s.n * (s.h + 2) * (s.w + 2) * 3, 31, 0.f, 1.f)),
        kernel(random_values(27 * s.c, 32, -0.3f, 0.3f)),
        bias(random_values(s.c, 33, 8.f, 16.f)),
        gamma(random_values(s.c, 34, 0.5f, 1.5f)),
        beta(random_values(s.c, 35, -0.5f, 0.5f)),
        targets(random_values(s.numel(), 36, -1.f, 2.f)) {}

  int64_t pixel(int64_t n, int64_t h, int64_t w) const {
    return ((n * (size.h + 2) + h) * (size.w + 2) + w) * 3;
  }

  struct Gradients {
    std::vector<float> kernel, gamma, beta;
  };

  Gradients run(LayoutPolicy policy) const {
    const Size& s = size;
    Graph graph;
    const ValueId x = graph.add_input("image", {DType::f32, {s.n, s.h + 2, s.w + 2, 3}});
    const ValueId k = graph.add_parameter("conv/kernel", {DType::f32, {3, 3, 3, s.c}}, {});
    const ValueId b = graph.add_parameter("conv/bias", {DType::f32, {s.c}}, {});
    const ValueId z = graph.add_node1("conv", "conv2d", {x, k, b});
    const ValueId y = batch_norm(graph, z, s.c)[0];
    const ValueId t = graph.add_input("targets", {DType::f32, {s.n, s.h, s.w, s.c}});
    graph.set_loss(graph.add_node1("loss", "mean_squared_error", {y, t}));
    graph.set_training(true);
    differentiate(graph);

    ParameterStore store;
    store.initialize_from(graph, 1);
    set(store, "conv/kernel", kernel);
    set(store, "conv/bias", bias);
    set(store, "bn/gamma", gamma);
    set(store, "bn/beta", beta);
    Runtime runtime;
    runtime.layouts = policy;
    Plan plan(graph, store, runtime);
    std::ranges::copy(image, plan.f32(x));
    std::ranges::copy(targets, plan.f32(t));
    plan.run();
    Gradients result;
    for (const ParameterGradient& g : graph.parameter_gradients()) {
      const std::string& name = graph.value(g.parameter).name;
      if (name == "conv/kernel") result.kernel = read(plan, g.gradient);
      if (name == "bn/gamma") result.gamma = read(plan, g.gradient);
      if (name == "bn/beta") result.beta = read(plan, g.gradient);
    }
    return result;
  }

  struct Expected {
    std::vector<double> kernel, gamma, beta;
  };

  // The same step in double: convolution, batch statistics, loss, and back.
  Expected reference() const {
    const Size& s = size;
    const auto channel = [&](int64_t i) { return size_t(i % s.c); };
    std::vector<double> z(size_t(s.numel()));
    for (int64_t r = 0; r < s.rows(); ++r) {
      const int64_t n = r / (s.h * s.w), h = r / s.w % s.h, w = r % s.w;
      double* out = &z[size_t(r * s.c)];
      for (int64_t c = 0; c < s.c; ++c) out[c] = bias[size_t(c)];
      for (int64_t kh = 0; kh < 3; ++kh)
        for (int64_t kw = 0; kw < 3; ++kw)
          for (int64_t ci = 0; ci < 3; ++ci) {
            const double v = image[size_t(pixel(n, h + kh, w + kw) + ci)];
            const float* k = &kernel[size_t(((kh * 3 + kw) * 3 + ci) * s.c)];
            for (int64_t c = 0; c < s.c; ++c) out[c] += v * k[c];
          }
    }
    const Statistics stats = statistics_of(z, s.c);
    Expected e{std::vector<double>(kernel.size()), std::vector<double>(size_t(s.c)),
               std::vector<double>(size_t(s.c))};
    // x̂, and dy = 2(y - t)/count from the mean squared error.
    std::vector<double> normalized(z.size()), dy(z.size());
    for (int64_t i = 0; i < s.numel(); ++i) {
      const size_t c = channel(i);
      normalized[size_t(i)] =
          (z[size_t(i)] - stats.mean[c]) / std::sqrt(stats.variance[c] + kEpsilon);
      const double y = gamma[c] * normalized[size_t(i)] + beta[c];
      dy[size_t(i)] = 2 * (y - targets[size_t(i)]) / double(s.numel());
      e.beta[c] += dy[size_t(i)];
      e.gamma[c] += dy[size_t(i)] * normalized[size_t(i)];
    }
    // dz = gamma/sqrt(var + eps)·(dy - mean(dy) - x̂·mean(dy·x̂)), then dkernel = Σ image·dz.
    std::vector<double> dz(z.size());
    for (int64_t i = 0; i < s.numel(); ++i) {
      const size_t c = channel(i);
      dz[size_t(i)] = gamma[c] / std::sqrt(stats.variance[c] + kEpsilon) *
                      (dy[size_t(i)] - e.beta[c] / double(s.rows()) -
                       normalized[size_t(i)] * e.gamma[c] / double(s.rows()));
    }
    for (int64_t r = 0; r < s.rows(); ++r) {
      const int64_t n = r / (s.h * s.w), h = r / s.w % s.h, w = r % s.w;
      const double* d = &dz[size_t(r * s.c)];
      for (int64_t kh = 0; kh < 3; ++kh)
        for (int64_t kw = 0; kw < 3; ++kw)
          for (int64_t ci = 0; ci < 3; ++ci) {
            const double v = image[size_t(pixel(n, h + kh, w + kw) + ci)];
            double* g = &e.kernel[size_t(((kh * 3 + kw) * 3 + ci) * s.c)];
            for (int64_t c = 0; c < s.c; ++c) g[c] += v * d[c];
          }
    }
    return e;
  }
};

struct StepCase {
  LayoutPolicy policy;
  Size size;
};

class FirstTrainingStep : public ::testing::TestWithParam<StepCase> {};

TEST_P(FirstTrainingStep, ConvolutionGradientMatchesFloat64) {
  const FirstStep step(GetParam().size);
  const FirstStep::Gradients gradients = step.run(GetParam().policy);
  const FirstStep::Expected expected = step.reference();
  const double kernel_error = worst_relative_to_largest(gradients.kernel, expected.kernel);
  const double gamma_error = worst_relative_to_largest(gradients.gamma, expected.gamma);
  const double beta_error = worst_relative_to_largest(gradients.beta, expected.beta);
  std::printf(
      "first step, relative to the largest element: dkernel %.2e (worst element's own %.2e), "
      "dgamma %.2e, dbeta %.2e\n",
      kernel_error, worst_relative(gradients.kernel, expected.kernel), gamma_error, beta_error);
  EXPECT_LE(kernel_error, 1e-4);
  EXPECT_LE(gamma_error, 1e-4);
  EXPECT_LE(beta_error, 1e-4);
}

std::string step_case_name(const ::testing::TestParamInfo<StepCase>& param) {
  return (param.param.policy == LayoutPolicy::plain ? "Plain" : "Negotiated") +
         size_name(param.param.size);
}

INSTANTIATE_TEST_SUITE_P(Layouts, FirstTrainingStep,
                         ::testing::Values(StepCase{LayoutPolicy::negotiated, kBatch},
                                           StepCase{LayoutPolicy::plain, kBatch},
                                           StepCase{LayoutPolicy::negotiated, kPadded}),
                         step_case_name);

}  // namespace
}  // namespace loom::testing
