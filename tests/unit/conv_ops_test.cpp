// conv2d, pooling and batch_norm: forward against naive loops over several strides, paddings,
// dilations and odd sizes; every input's and parameter's gradient against finite differences;
// batch norm's training and evaluation behaviour; and the convnet's plan: oneDNN's native
// kernels on negotiated layouts, with reorders only at the edges (see layout_test.cpp too).

#include <gtest/gtest.h>

#include <cmath>

#include "engine/config/build_graph.hpp"
#include "engine/config/experiment.hpp"
#include "engine/core/error.hpp"
#include "engine/exec/plan.hpp"
#include "engine/graph/conv_geometry.hpp"
#include "engine/graph/op.hpp"
#include "tests/support/op_expectations.hpp"
#include "tests/support/op_harness.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

struct ConvCase {
  Shape x;       // [N, H, W, C]
  Shape kernel;  // [KH, KW, C/groups, O]
  int64_t stride_h, stride_w;
  int64_t dilation_h, dilation_w;
  std::string padding;
  std::vector<int64_t> pads = {};  // [top, left, bottom, right] with padding "explicit"
  int64_t groups = 1;
};

// The axis of a window: Keras's valid/same or explicit pads.
WindowAxis case_axis(const std::string& padding, const std::vector<int64_t>& pads, int axis,
                     int64_t in, int64_t kernel, int64_t stride, int64_t dilation) {
  if (padding != "explicit") return *window_axis(in, kernel, stride, dilation, padding);
  return *explicit_window_axis(in, kernel, stride, dilation, pads[size_t(axis)],
                               pads[size_t(axis) + 2]);
}

// Keras's definition, written out: the window of output (i, j) starts at i·s - pad_top; with
// groups, filter o reads the channels of its group only.
std::vector<float> naive_conv(const ConvCase& c, const std::vector<float>& x,
                              const std::vector<float>& k, const std::vector<float>& bias,
                              Shape& out_shape) {
  const WindowAxis ah =
      case_axis(c.padding, c.pads, 0, c.x[1], c.kernel[0], c.stride_h, c.dilation_h);
  const WindowAxis aw =
      case_axis(c.padding, c.pads, 1, c.x[2], c.kernel[1], c.stride_w, c.dilation_w);
  out_shape = {c.x[0], ah.output, aw.output, c.kernel[3]};
  std::vector<float> y(size_t(numel(out_shape)), 0.f);
  for (int64_t n = 0; n < c.x[0]; ++n)
    for (int64_t i = 0; i < ah.output; ++i)
      for (int64_t j = 0; j < aw.output; ++j)
        for (int64_t o = 0; o < c.kernel[3]; ++o) {
          double sum = bias.empty() ? 0.0 : bias[size_t(o)];
          const int64_t group = o / (c.kernel[3] / c.groups);
          for (int64_t ki = 0; ki < c.kernel[0]; ++ki)
            for (int64_t kj = 0; kj < c.kernel[1]; ++kj) {
              const int64_t h = i * c.stride_h - ah.pad_begin + ki * c.dilation_h;
              const int64_t w = j * c.stride_w - aw.pad_begin + kj * c.dilation_w;
              if (h < 0 || h >= c.x[1] || w < 0 || w >= c.x[2]) continue;
              for (int64_t ci = 0; ci < c.kernel[2]; ++ci) {
                const int64_t channel = group * c.kernel[2] + ci;
                sum +=
                    double(x[size_t(((n * c.x[1] + h) * c.x[2] + w) * c.x[3] + channel)]) *
                    double(
                        k[size_t(((ki * c.kernel[1] + kj) * c.kernel[2] + ci) * c.kernel[3] + o)]);
              }
            }
          y[size_t(((n * ah.output + i) * aw.output + j) * c.kernel[3] + o)] = float(sum);
        }
  return y;
}

class Conv2DTest : public ::testing::TestWithParam<ConvCase> {};

OpUnderTest conv_case(const ConvCase& c, bool with_bias) {
  OpUnderTest test{"conv2d",
                   {{"strides", std::vector<int64_t>{c.stride_h, c.stride_w}},
                    {"dilation", std::vector<int64_t>{c.dilation_h, c.dilation_w}},
                    {"padding", c.padding},
                    {"groups", c.groups}},
                   {f32_input(c.x, random_values(numel(c.x), 91)),
                    f32_input(c.kernel, random_values(numel(c.kernel), 92))}};
  if (with_bias) test.inputs.push_back(f32_input({c.kernel[3]}, random_values(c.kernel[3], 93)));
  if (!c.pads.empty()) test.attributes.set("pads", c.pads);
  return test;
}

TEST_P(Conv2DTest, ForwardMatchesNaiveLoop) {
  const ConvCase c = GetParam();
  const OpUnderTest test = conv_case(c, true);
  Shape shape;
  const std::vector<float> expected =
      naive_conv(c, test.inputs[0].values, test.inputs[1].values, test.inputs[2].values, shape);
  expect_near_all(run_forward(test)[0], expected, 1e-4f);
}

TEST_P(Conv2DTest, GradientsOfInputKernelAndBias) {
  expect_gradients_pass(conv_case(GetParam(), true), {.step = 1e-3});
}

INSTANTIATE_TEST_SUITE_P(
    Windows, Conv2DTest,
    ::testing::Values(ConvCase{{2, 6, 5, 3}, {3, 3, 3, 4}, 1, 1, 1, 1, "valid"},
                      ConvCase{{1, 7, 7, 2}, {3, 2, 2, 3}, 2, 1, 1, 1, "same"},
                      ConvCase{{2, 8, 6, 2}, {3, 3, 2, 2}, 1, 2, 2, 1, "valid"},
                      ConvCase{{1, 5, 9, 1}, {2, 4, 1, 3}, 3, 2, 1, 2, "same"},
                      // PyTorch's padding: asymmetric pads, one wider than half the window
                      ConvCase{{2, 6, 5, 2}, {3, 3, 2, 3}, 2, 1, 1, 1, "explicit", {2, 0, 1, 3}},
                      // grouped (2 groups of 2 channels) and depthwise (one channel a group,
                      // two filters each)
                      ConvCase{{2, 6, 6, 4}, {3, 3, 2, 6}, 1, 1, 1, 1, "explicit", {1, 1, 1, 1}, 2},
                      ConvCase{{1, 7, 6, 3}, {3, 3, 1, 6}, 2, 2, 1, 1, "same", {}, 3},
                      // 3x3 at stride 1 on whole blocks of 16 channels: oneDNN's Winograd
                      // kernels, forward and weight gradient, where the CPU has them
                      ConvCase{{1, 6, 5, 16}, {3, 3, 16, 32}, 1, 1, 1, 1, "valid"},
                      ConvCase{{1, 5, 4, 32}, {3, 3, 32, 16}, 1, 1, 1, 1, "same"}),
    [](const auto& param_info) {
      const ConvCase& c = param_info.param;
      std::string pads;
      for (int64_t pad : c.pads) pads += std::to_string(pad);
      return c.padding + pads + "_channels" + std::to_string(c.x[3]) + "_stride" +
             std::to_string(c.stride_h) + std::to_string(c.stride_w) + "_dilation" +
             std::to_string(c.dilation_h) + std::to_string(c.dilation_w) + "_groups" +
             std::to_string(c.groups);
    });

TEST(Conv2D, ReluActivationRidesOnTheConvolution) {
  const ConvCase c{{2, 6, 6, 2}, {3, 3, 2, 3}, 1, 1, 1, 1, "valid"};
  OpUnderTest test = conv_case(c, true);
  test.attributes.set("activation", std::string("relu"));
  Shape shape;
  std::vector<float> expected =
      naive_conv(c, test.inputs[0].values, test.inputs[1].values, test.inputs[2].values, shape);
  for (float& v : expected) v = std::max(v, 0.f);
  expect_near_all(run_forward(test)[0], expected, 1e-4f);
}

TEST(Conv2D, MismatchedChannelsNameBothShapes) {
  try {
    run_forward({"conv2d",
                 {},
                 {f32_input({1, 5, 5, 3}, random_values(75, 1)),
                  f32_input({3, 3, 2, 4}, random_values(72, 2))}});
    FAIL();
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("expects 2 input channels, x [1, 5, 5, 3] has 3"),
              std::string::npos)
        << error.what();
  }
}

TEST(Conv2D, RefusesGroupsAndPadsThatDoNotFit) {
  const auto conv = [](Attributes attributes, Shape kernel) {
    run_forward({"conv2d",
                 std::move(attributes),
                 {f32_input({1, 5, 5, 4}, random_values(100, 1)),
                  f32_input(kernel, random_values(numel(kernel), 2))}});
  };
  expect_input_error(
      [&] {
        conv({{"groups", int64_t{3}}}, {3, 3, 1, 3});
      },
      {"groups 3 must divide the input's 4 channels"});
  expect_input_error(
      [&] {
        conv({{"groups", int64_t{2}}}, {3, 3, 2, 3});
      },
      {"the kernel's 3 filters"});
  expect_input_error(
      [&] {
        conv({{"pads", std::vector<int64_t>{1, 1, 1, 1}}}, {3, 3, 4, 2});
      },
      {"pads needs padding: explicit"});
  expect_input_error(
      [&] {
        conv({{"padding", std::string("explicit")}}, {3, 3, 4, 2});
      },
      {"needs pads [top, left, bottom, right], got none"});
  expect_input_error(
      [&] {
        conv({{"padding", std::string("explicit")}, {"pads", std::vector<int64_t>{0, -1, 0, 0}}},
             {3, 3, 4, 2});
      },
      {"pad"});
}

TEST(Pooling, RefusesPadsPastTheWindowAndCountingPaddingOfAMaximum) {
  const auto pool = [](const std::string& op, Attributes attributes) {
    attributes.set("pool_size", std::vector<int64_t>{2, 2});
    run_forward({op, std::move(attributes), {f32_input({1, 5, 5, 2}, random_values(50, 1))}});
  };
  expect_input_error(
      [&] {
        pool("max_pool2d",
             {{"padding", std::string("explicit")}, {"pads", std::vector<int64_t>{2, 0, 0, 0}}});
      },
      {"reach past a pooling window of 2"});
  expect_input_error(
      [&] {
        pool("max_pool2d", {{"count_padding", true}});
      },
      {"count_padding is for avg_pool2d"});
}

// ---- pooling ----------------------------------------------------------------------------------

struct PoolCase {
  std::string op;
  Shape x;
  int64_t pool, stride;
  std::string padding;
  std::vector<int64_t> pads = {};  // with padding "explicit"
  bool count_padding = false;      // an average counting padded taps (PyTorch's default)
};

std::vector<float> naive_pool(const PoolCase& c, const std::vector<float>& x) {
  const WindowAxis ah = case_axis(c.padding, c.pads, 0, c.x[1], c.pool, c.stride, 1);
  const WindowAxis aw = case_axis(c.padding, c.pads, 1, c.x[2], c.pool, c.stride, 1);
  std::vector<float> y;
  for (int64_t n = 0; n < c.x[0]; ++n)
    for (int64_t i = 0; i < ah.output; ++i)
      for (int64_t j = 0; j < aw.output; ++j)
        for (int64_t ch = 0; ch < c.x[3]; ++ch) {
          double best = -INFINITY, sum = 0;
          int64_t count = 0;
          for (int64_t a = 0; a < c.pool; ++a)
            for (int64_t b = 0; b < c.pool; ++b) {
              const int64_t h = i * c.stride - ah.pad_begin + a,
                            w = j * c.stride - aw.pad_begin + b;
              if (h < 0 || h >= c.x[1] || w < 0 || w >= c.x[2]) continue;  // padding is excluded
              const double v = x[size_t(((n * c.x[1] + h) * c.x[2] + w) * c.x[3] + ch)];
              best = std::max(best, v);
              sum += v;
              ++count;
            }
          if (c.count_padding) count = c.pool * c.pool;
          y.push_back(float(c.op == "max_pool2d" ? best : sum / double(count)));
        }
  return y;
}

class PoolTest : public ::testing::TestWithParam<PoolCase> {};

OpUnderTest pool_case(const PoolCase& c) {
  OpUnderTest test{c.op,
                   {{"pool_size", std::vector<int64_t>{c.pool, c.pool}},
                    {"strides", std::vector<int64_t>{c.stride, c.stride}},
                    {"padding", c.padding}},
                   {f32_input(c.x, random_values(numel(c.x), 94))}};
  if (!c.pads.empty()) test.attributes.set("pads", c.pads);
  if (c.count_padding) test.attributes.set("count_padding", true);
  return test;
}

TEST_P(PoolTest, ForwardMatchesNaiveLoop) {
  const PoolCase c = GetParam();
  const OpUnderTest test = pool_case(c);
  expect_near_all(run_forward(test)[0], naive_pool(c, test.inputs[0].values));
}

TEST_P(PoolTest, Gradient) {
  expect_gradients_pass(pool_case(GetParam()), {.step = 1e-3});
}

INSTANTIATE_TEST_SUITE_P(
    Windows, PoolTest,
    ::testing::Values(PoolCase{"max_pool2d", {2, 6, 6, 3}, 2, 2, "valid"},
                      PoolCase{"max_pool2d", {1, 7, 5, 2}, 3, 2, "same"},
                      PoolCase{"avg_pool2d", {2, 6, 6, 3}, 2, 2, "valid"},
                      PoolCase{"avg_pool2d", {1, 7, 5, 2}, 3, 2, "same"},
                      PoolCase{"max_pool2d", {1, 7, 6, 2}, 3, 2, "explicit", {1, 0, 1, 2}},
                      PoolCase{"avg_pool2d", {2, 6, 5, 2}, 3, 2, "explicit", {1, 1, 2, 1}},
                      PoolCase{"avg_pool2d", {2, 6, 5, 2}, 3, 2, "explicit", {1, 1, 2, 1}, true}),
    [](const auto& param_info) {
      const PoolCase& c = param_info.param;
      std::string pads;
      for (int64_t pad : c.pads) pads += std::to_string(pad);
      return c.op + "_" + c.padding + pads + (c.count_padding ? "_count_padding" : "");
    });

TEST(GlobalAvgPool2D, AveragesHeightAndWidth) {
  const std::vector<float> x = random_values(2 * 3 * 4 * 5, 95);
  const OpUnderTest test{"global_avg_pool2d", {}, {f32_input({2, 3, 4, 5}, x)}};
  std::vector<float> expected(10, 0.f);
  for (int n = 0; n < 2; ++n)
    for (int p = 0; p < 12; ++p)
      for (int c = 0; c < 5; ++c)
        expected[size_t(n * 5 + c)] += x[size_t((n * 12 + p) * 5 + c)] / 12;
  expect_near_all(run_forward(test)[0], expected);
  expect_gradients_pass(test);
}

// ---- batch norm -------------------------------------------------------------------------------

OpUnderTest batch_norm_case(bool training, const Shape& x) {
  const int64_t c = x.back();
  return {"batch_norm",
          {{"momentum", 0.9}, {"epsilon", 1e-3}},
          {f32_input(x, random_values(numel(x), 96, -2.f, 3.f)),
           f32_input({c}, random_values(c, 97, 0.5f, 1.5f)), f32_input({c}, random_values(c, 98)),
           f32_input({c}, random_values(c, 99), false),
           f32_input({c}, random_values(c, 100, 0.5f, 2.f), false)},
          training};
}

TEST(BatchNorm, TrainingNormalizesByTheBatchStatistics) {
  const OpUnderTest test = batch_norm_case(true, {4, 3, 2, 3});
  const auto outputs = run_forward(test);
  const std::vector<float>& x = test.inputs[0].values;
  const int64_t channels = 3, rows = 4 * 3 * 2;
  for (int64_t c = 0; c < channels; ++c) {
    double mean = 0, variance = 0;
    for (int64_t r = 0; r < rows; ++r) mean += x[size_t(r * channels + c)] / double(rows);
    for (int64_t r = 0; r < rows; ++r) {
      variance += std::pow(x[size_t(r * channels + c)] - mean, 2) / double(rows);  // biased
    }
    EXPECT_NEAR(outputs[1][size_t(c)], mean, 1e-5);
    EXPECT_NEAR(outputs[2][size_t(c)], variance, 1e-4);
    for (int64_t r = 0; r < rows; ++r) {
      const double expected = test.inputs[1].values[size_t(c)] *
                                  (x[size_t(r * channels + c)] - mean) /
                                  std::sqrt(variance + 1e-3) +
                              test.inputs[2].values[size_t(c)];
      ASSERT_NEAR(outputs[0][size_t(r * channels + c)], expected, 1e-4);
    }
  }
}

TEST(BatchNorm, EvaluationUsesTheMovingStatistics) {
  const OpUnderTest test = batch_norm_case(false, {5, 4});
  const auto y = run_forward(test)[0];
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t c = 0; c < 4; ++c) {
      const double expected =
          test.inputs[1].values[size_t(c)] *
              (test.inputs[0].values[size_t(r * 4 + c)] - test.inputs[3].values[size_t(c)]) /
              std::sqrt(test.inputs[4].values[size_t(c)] + 1e-3) +
          test.inputs[2].values[size_t(c)];
      ASSERT_NEAR(y[size_t(r * 4 + c)], expected, 1e-4);
    }
}

// Keras's trainable=False: inference mode in a training graph too, its moving statistics left
// as they are, and the gradients those of the affine map they define.
TEST(BatchNorm, FrozenUsesAndKeepsTheMovingStatisticsInTraining) {
  OpUnderTest test = batch_norm_case(true, {5, 4});
  test.attributes.set("frozen", true);
  OpUnderTest inference = batch_norm_case(false, {5, 4});
  EXPECT_EQ(run_forward(test)[0], run_forward(inference)[0]);
  expect_gradients_pass(test, {.step = 1e-3});
}

TEST(BatchNorm, GradientsOfInputGammaAndBeta) {
  expect_gradients_pass(batch_norm_case(true, {4, 3, 2, 3}), {.step = 1e-3});
  expect_gradients_pass(batch_norm_case(true, {6, 5}), {.step = 1e-3});
}

// ---- the convnet's plan ------------------------------------------------------------------------

// The book convnet's training plan: every convolution and pooling runs one of oneDNN's native
// kernels (never the reference or the gemm-based fallback) on the formats it negotiated, and
// the reorders sit only where a plain tensor meets those formats: each kernel read from the
// parameter store, each kernel gradient written back to it, the flatten between the last
// convolution and the dense layers (both ways), and on some CPUs the input images. The counts
// are printed for the record (AVX-512: 10; AVX2: 11, the first convolution's backward wants
// the images in its own format).
TEST(ConvnetPlan, ReordersOnlyWherePlainTensorsMeetNegotiatedLayouts) {
  if (!has_direct_convolutions()) GTEST_SKIP() << "no direct convolution kernels below AVX2";
  const Experiment experiment =
      load_experiment(source_path("configs/fashion_mnist_convnet.yaml"), {"data.train.limit=640"});
  const Graph graph = build_training_graph(experiment, 64);
  ParameterStore store;
  store.initialize_from(graph, 1);
  Runtime runtime;
  const Plan plan(graph, store, runtime);
  const Graph& planned = plan.graph();
  std::vector<bool> is_gradient(planned.values().size(), false);
  for (const ParameterGradient& g : planned.parameter_gradients()) {
    is_gradient[size_t(g.gradient)] = true;
  }
  int kernels_in = 0, gradients_out = 0, images_in = 0, at_flatten = 0, convolutions = 0;
  std::vector<std::string> winograd;
  for (size_t i = 0; i < planned.nodes().size(); ++i) {
    const Node& node = planned.nodes()[i];
    const std::string op(node.op->name());
    const std::string implementation = plan.kernel(i).implementation();
    if (op == "reorder") {
      const Value& from = planned.value(node.inputs[0]);
      if (from.role == ValueRole::parameter) {
        ++kernels_in;
      } else if (from.role == ValueRole::input) {
        ++images_in;
      } else if (is_gradient[size_t(node.outputs[0])]) {
        ++gradients_out;
      } else {
        ++at_flatten;
      }
      EXPECT_NE(plan.layout(node.inputs[0]).is_plain(), plan.layout(node.outputs[0]).is_plain())
          << node.name << " converts between two negotiated formats";
    }
    if (op.starts_with("conv2d") || op.find("pool2d") != std::string::npos) {
      ++convolutions;
      EXPECT_EQ(implementation.find("ref"), std::string::npos)
          << node.name << " runs oneDNN's reference kernel: " << implementation;
      EXPECT_EQ(implementation.find("gemm"), std::string::npos)
          << node.name << " runs the gemm-based fallback: " << implementation;
      if (implementation.find("wino") != std::string::npos) winograd.push_back(node.name);
    }
  }
  // Winograd runs the forward and weight gradient of the two convolutions with 32 and 64
  // channels, where oneDNN has it (AVX-512); never the one-channel first convolution, never a
  // data gradient (conv2d_common.hpp says why).
  const std::vector<std::string> expected_winograd =
      dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core
          ? std::vector<std::string>{"conv2d_1/conv2d", "conv2d_2/conv2d",
                                     "d/conv2d_2/conv2d/conv2d_backward_weights",
                                     "d/conv2d_1/conv2d/conv2d_backward_weights"}
          : std::vector<std::string>{};
  EXPECT_EQ(winograd, expected_winograd);
  std::printf(
      "reorders per step: %d (kernels in %d, kernel gradients out %d, images in %d, at the "
      "flatten %d)\n",
      plan.reorders(), kernels_in, gradients_out, images_in, at_flatten);
  EXPECT_EQ(kernels_in + gradients_out + images_in + at_flatten, plan.reorders());
  EXPECT_LE(images_in, 1);
  EXPECT_EQ(gradients_out, 3);  // one per convolution kernel
  EXPECT_GE(kernels_in, 3);     // the forward's format, and the backward-data one if it differs
  EXPECT_LE(kernels_in, 5);     // (the first convolution needs no dx)
  EXPECT_EQ(at_flatten, 2);     // the flatten's input, and its gradient
  EXPECT_GE(convolutions, 10);  // 3 convolutions, 2 pools, and their backward ops
}

}  // namespace
}  // namespace loom::testing
