// The importer on PyTorch-style convnets ([N, C, H, W] images, [O, I/groups, KH, KW] kernels):
// the image is transposed once into the engine's channels-last layout and stays so through
// convolutions, poolings, batch norms, activations and residual additions; the forward pass
// matches a plain NCHW loop in double written here from ONNX's definitions; and what the
// engine cannot do is refused in one line naming the node.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/core/random.hpp"
#include "engine/onnx/onnx_import.hpp"
#include "tests/onnx/onnx_models.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

std::vector<float> draw(int64_t count, uint64_t seed, double low = -0.5, double high = 0.5) {
  Random random(seed);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& value : values) value = float(random.uniform(low, high));
  return values;
}

// An NCHW image in double, for the reference loops.
struct Image {
  int64_t n = 0, c = 0, h = 0, w = 0;
  std::vector<double> v;
  Image(int64_t n_, int64_t c_, int64_t h_, int64_t w_)
      : n(n_), c(c_), h(h_), w(w_), v(size_t(n_ * c_ * h_ * w_), 0.0) {}
  double& at(int64_t a, int64_t b, int64_t i, int64_t j) {
    return v[size_t(((a * c + b) * h + i) * w + j)];
  }
  double get(int64_t a, int64_t b, int64_t i, int64_t j) const {
    return v[size_t(((a * c + b) * h + i) * w + j)];
  }
};

struct Window2D {
  int64_t kernel, stride;
  int64_t pads[4];  // top, left, bottom, right
  int64_t out(int64_t in, int axis) const {
    return (in + pads[axis] + pads[axis + 2] - kernel) / stride + 1;
  }
};

// ONNX Conv: y[n, o, i, j] = b[o] + Σ x[n, g·Cg + c, i·s - top + kh, j·s - left + kw] ·
// W[o, c, kh, kw], g = o's group.
Image conv(const Image& x, const std::vector<float>& weight, const std::vector<float>& bias,
           int64_t filters, const Window2D& win, int64_t groups) {
  Image y(x.n, filters, win.out(x.h, 0), win.out(x.w, 1));
  const int64_t per_group = x.c / groups, k = win.kernel;
  for (int64_t n = 0; n < y.n; ++n)
    for (int64_t o = 0; o < filters; ++o)
      for (int64_t i = 0; i < y.h; ++i)
        for (int64_t j = 0; j < y.w; ++j) {
          double total = bias[size_t(o)];
          const int64_t first = o / (filters / groups) * per_group;
          for (int64_t c = 0; c < per_group; ++c)
            for (int64_t kh = 0; kh < k; ++kh)
              for (int64_t kw = 0; kw < k; ++kw) {
                const int64_t r = i * win.stride - win.pads[0] + kh;
                const int64_t s = j * win.stride - win.pads[1] + kw;
                if (r < 0 || r >= x.h || s < 0 || s >= x.w) continue;
                total += x.get(n, first + c, r, s) *
                         weight[size_t(((o * per_group + c) * k + kh) * k + kw)];
              }
          y.at(n, o, i, j) = total;
        }
  return y;
}

// MaxPool (padding never wins) or AveragePool (count_include_pad: divide by the window).
Image pool(const Image& x, const Window2D& win, bool max, bool count_include_pad) {
  Image y(x.n, x.c, win.out(x.h, 0), win.out(x.w, 1));
  for (int64_t n = 0; n < y.n; ++n)
    for (int64_t c = 0; c < y.c; ++c)
      for (int64_t i = 0; i < y.h; ++i)
        for (int64_t j = 0; j < y.w; ++j) {
          double best = -std::numeric_limits<double>::infinity(), total = 0;
          int64_t count = 0;
          for (int64_t kh = 0; kh < win.kernel; ++kh)
            for (int64_t kw = 0; kw < win.kernel; ++kw) {
              const int64_t r = i * win.stride - win.pads[0] + kh;
              const int64_t s = j * win.stride - win.pads[1] + kw;
              if (r < 0 || r >= x.h || s < 0 || s >= x.w) continue;
              best = std::max(best, x.get(n, c, r, s));
              total += x.get(n, c, r, s);
              ++count;
            }
          if (count_include_pad) count = win.kernel * win.kernel;
          y.at(n, c, i, j) = max ? best : total / double(count);
        }
  return y;
}

void relu(Image& x) {
  for (double& value : x.v) value = std::max(value, 0.0);
}

struct BatchNormWeights {
  std::vector<float> gamma, beta, mean, variance;
};

void batch_norm(Image& x, const BatchNormWeights& bn, double epsilon) {
  for (int64_t n = 0; n < x.n; ++n)
    for (int64_t c = 0; c < x.c; ++c)
      for (int64_t i = 0; i < x.h; ++i)
        for (int64_t j = 0; j < x.w; ++j) {
          const auto k = size_t(c);
          x.at(n, c, i, j) = bn.gamma[k] * (x.at(n, c, i, j) - bn.mean[k]) /
                                 std::sqrt(double(bn.variance[k]) + epsilon) +
                             bn.beta[k];
        }
}

// A PyTorch-style convnet on [N, 2, 9, 9] images:
//   conv1 Conv 2->4, 3x3, pads 1 -> BatchNormalization -> Relu -> MaxPool 2 (pads 0, 1, 1, 0)
//   -> conv2 Conv 4->4, 3x3, group 2, pads 1 -> Add (conv2 + pooled: a residual) -> Relu
//   -> AveragePool 3, stride 2, pads 1, count_include_pad -> Flatten -> fc Gemm (transB) -> y
struct Convnet {
  std::vector<float> w1 = draw(4 * 2 * 9, 1), b1 = draw(4, 2);
  BatchNormWeights bn{draw(4, 3, 0.5, 1.5), draw(4, 4), draw(4, 5), draw(4, 6, 0.5, 2.0)};
  std::vector<float> w2 = draw(4 * 2 * 9, 7), b2 = draw(4, 8);
  std::vector<float> fc = draw(3 * 4 * 3 * 3, 9), fc_bias = draw(3, 10);
  static constexpr Window2D kConv{3, 1, {1, 1, 1, 1}};
  static constexpr Window2D kMaxPool{2, 2, {0, 1, 1, 0}};
  static constexpr Window2D kAvgPool{3, 2, {1, 1, 1, 1}};

  void write(const std::string& file) const {
    OnnxBuilder b;
    b.input("image", {-1, 2, 9, 9});
    b.initializer("conv1.weight", {4, 2, 3, 3}, w1);
    b.initializer("conv1.bias", {4}, b1);
    b.initializer("bn.weight", {4}, bn.gamma);
    b.initializer("bn.bias", {4}, bn.beta);
    b.initializer("bn.running_mean", {4}, bn.mean);
    b.initializer("bn.running_var", {4}, bn.variance);
    b.initializer("conv2.weight", {4, 2, 3, 3}, w2);
    b.initializer("conv2.bias", {4}, b2);
    b.initializer("fc.weight", {3, 36}, fc);
    b.initializer("fc.bias", {3}, fc_bias);
    auto& c1 = b.node("Conv", {"image", "conv1.weight", "conv1.bias"}, {"c1"}, "conv1");
    OnnxBuilder::set(c1, "pads", std::vector<int64_t>{1, 1, 1, 1});
    OnnxBuilder::set(c1, "kernel_shape", std::vector<int64_t>{3, 3});
    auto& norm =
        b.node("BatchNormalization",
               {"c1", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"}, {"n1"}, "bn");
    OnnxBuilder::set(norm, "epsilon", 1e-3f);
    b.node("Relu", {"n1"}, {"r1"});
    auto& max = b.node("MaxPool", {"r1"}, {"p1"}, "pool1");
    OnnxBuilder::set(max, "kernel_shape", std::vector<int64_t>{2, 2});
    OnnxBuilder::set(max, "strides", std::vector<int64_t>{2, 2});
    OnnxBuilder::set(max, "pads", std::vector<int64_t>{0, 1, 1, 0});
    auto& c2 = b.node("Conv", {"p1", "conv2.weight", "conv2.bias"}, {"c2"}, "conv2");
    OnnxBuilder::set(c2, "pads", std::vector<int64_t>{1, 1, 1, 1});
    OnnxBuilder::set(c2, "group", int64_t{2});
    b.node("Add", {"c2", "p1"}, {"sum"});
    b.node("Relu", {"sum"}, {"r2"});
    auto& avg = b.node("AveragePool", {"r2"}, {"p2"}, "pool2");
    OnnxBuilder::set(avg, "kernel_shape", std::vector<int64_t>{3, 3});
    OnnxBuilder::set(avg, "strides", std::vector<int64_t>{2, 2});
    OnnxBuilder::set(avg, "pads", std::vector<int64_t>{1, 1, 1, 1});
    OnnxBuilder::set(avg, "count_include_pad", int64_t{1});
    b.node("Flatten", {"p2"}, {"flat"});
    auto& gemm = b.node("Gemm", {"flat", "fc.weight", "fc.bias"}, {"y"}, "fc");
    OnnxBuilder::set(gemm, "transB", int64_t{1});
    b.output("y");
    b.write(file);
  }

  std::vector<double> forward(const std::vector<float>& x, int64_t batch) const {
    Image image(batch, 2, 9, 9);
    std::copy(x.begin(), x.end(), image.v.begin());
    Image h = conv(image, w1, b1, 4, kConv, 1);
    batch_norm(h, bn, 1e-3);
    relu(h);
    const Image pooled = pool(h, kMaxPool, true, false);  // [N, 4, 5, 5]
    Image sum = conv(pooled, w2, b2, 4, kConv, 2);
    for (size_t i = 0; i < sum.v.size(); ++i) sum.v[i] += pooled.v[i];
    relu(sum);
    const Image averaged = pool(sum, kAvgPool, false, true);  // [N, 4, 3, 3], NCHW flattened
    std::vector<double> y;
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t o = 0; o < 3; ++o) {
        double total = fc_bias[size_t(o)];
        for (int64_t k = 0; k < 36; ++k)
          total += averaged.v[size_t(n * 36 + k)] * fc[size_t(o * 36 + k)];
        y.push_back(total);
      }
    return y;
  }
};

TEST(OnnxImage, AConvnetIsTransposedOnceAndStaysChannelsLast) {
  TemporaryDirectory directory;
  Convnet().write(directory.file("convnet.onnx"));
  const ImportedModel model = import_onnx(directory.file("convnet.onnx"));
  std::vector<std::string> ops;
  int data_transposes = 0;
  for (const auto& node : model.nodes) {
    ops.push_back(node.op);
    if (node.op == "transpose" && node.inputs[0] != "conv1.weight" &&
        node.inputs[0] != "conv2.weight") {
      ++data_transposes;
    }
  }
  // In: the image once; out: the pooled image before Flatten reads it in ONNX's order.
  EXPECT_EQ(data_transposes, 2) << ::testing::PrintToString(ops);
  EXPECT_EQ(ops,
            (std::vector<std::string>{"transpose", "transpose", "conv2d", "batch_norm", "relu",
                                      "max_pool2d", "transpose", "conv2d", "add", "relu",
                                      "avg_pool2d", "transpose", "flatten", "matmul", "bias_add"}));
  // Weights keep their ONNX names and shapes; the moving statistics are the op's, not the
  // optimizer's.
  for (const auto& parameter : model.parameters) {
    const bool statistic = parameter.name.find("running") != std::string::npos;
    EXPECT_EQ(parameter.trainable, !statistic) << parameter.name;
    if (parameter.name == "conv1.weight") {
      EXPECT_EQ(parameter.shape, (Shape{4, 2, 3, 3}));
    }
  }
}

TEST(OnnxImage, PredictsWhatAnNchwLoopComputes) {
  TemporaryDirectory directory;
  const Convnet net;
  net.write(directory.file("convnet.onnx"));
  const ImportedModel model = import_onnx(directory.file("convnet.onnx"));
  for (int64_t batch : {1, 3}) {
    const auto x = draw(batch * 2 * 81, uint64_t(20 + batch), -1.0, 1.0);
    const auto run = run_imported(model, batch, {x});
    const auto expected = net.forward(x, batch);
    ASSERT_EQ(run.outputs[0].size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_NEAR(run.outputs[0][i], expected[i], 2e-5) << "batch " << batch << " value " << i;
    }
  }
}

// Global pooling ends the channels-last chain without a transpose: [N, C, 1, 1] is [N, C].
TEST(OnnxImage, GlobalAveragePoolNeedsNoTransposeBack) {
  TemporaryDirectory directory;
  OnnxBuilder b;
  b.input("image", {-1, 3, 5, 4});
  b.node("Relu", {"image"}, {"r"});
  b.node("GlobalAveragePool", {"r"}, {"g"});
  b.node("Flatten", {"g"}, {"y"});
  b.output("y");
  b.write(directory.file("gap.onnx"));
  const ImportedModel model = import_onnx(directory.file("gap.onnx"));
  std::vector<std::string> ops;
  for (const auto& node : model.nodes) ops.push_back(node.op);
  EXPECT_EQ(ops, (std::vector<std::string>{"relu", "transpose", "global_avg_pool2d", "reshape",
                                           "flatten"}));
  const auto x = draw(2 * 60, 30);
  const auto run = run_imported(model, 2, {x});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c) {
      double total = 0;
      for (int64_t p = 0; p < 20; ++p) total += std::max(0.f, x[size_t((n * 3 + c) * 20 + p)]);
      EXPECT_NEAR(run.outputs[0][size_t(n * 3 + c)], total / 20, 1e-6);
    }
}

// A model of one image node on [2, 3, 6, 6] (or `dims`), for the refusals.
std::string image_node(TemporaryDirectory& directory, const std::string& op,
                       const std::function<void(OnnxBuilder&, onnx::NodeProto&)>& configure,
                       std::vector<int64_t> dims = {2, 3, 6, 6}, int outputs = 1,
                       int64_t opset = 13) {
  OnnxBuilder b(opset);
  b.input("x", dims);
  b.initializer("w", {4, 3, 3, 3}, draw(108, 40));
  std::vector<std::string> names = {"y"};
  if (outputs > 1) names.push_back("extra");
  auto& node = b.node(op, {"x"}, names, "the_node");
  configure(b, node);
  b.output("y");
  const std::string file = directory.file(op + ".onnx");
  b.write(file);
  return file;
}

// PyTorch's TRAINING export: BatchNormalization with training_mode 1 and its running
// statistics as two more outputs, read by nothing (or, `read`, as graph outputs).
std::string batch_norm_model(TemporaryDirectory& directory, bool read) {
  OnnxBuilder b(15);
  b.input("x", {-1, 3, 4, 4});
  std::vector<std::string> inputs = {"x"};
  for (const char* name : {"bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"}) {
    b.initializer(name, {3}, {1.f, 1.f, 1.f});
    inputs.push_back(name);
  }
  auto& node = b.node("BatchNormalization", inputs, {"y", "mean", "var"}, "bn");
  OnnxBuilder::set(node, "training_mode", int64_t{1});
  b.output("y");
  if (read) b.output("mean");
  const std::string file = directory.file(read ? "bn_read.onnx" : "bn.onnx");
  b.write(file);
  return file;
}

TEST(OnnxImage, TrainingModeBatchNormTrainsAsTheEnginesBatchNorm) {
  TemporaryDirectory directory;
  const ImportedModel model = import_onnx(batch_norm_model(directory, false));
  std::vector<std::string> ops;
  for (const auto& node : model.nodes) ops.push_back(node.op);
  EXPECT_EQ(ops, (std::vector<std::string>{"transpose", "batch_norm", "transpose"}));
  EXPECT_EQ(model.nodes[1].attributes.get_real("momentum", 0), 0.9);
  EXPECT_EQ(model.nodes[1].attributes.get_real("epsilon", 0), 1e-5);
}

TEST(OnnxImage, RefusesWhatTheEngineCannotDoNamingTheNode) {
  TemporaryDirectory directory;
  const auto kernel = [](OnnxBuilder&, onnx::NodeProto& node) {
    OnnxBuilder::set(node, "kernel_shape", std::vector<int64_t>{2, 2});
  };
  const auto conv_1d =
      image_node(directory, "Conv",
                 [](OnnxBuilder&, onnx::NodeProto& node) { node.add_input("w"); }, {2, 3, 6});
  expect_input_error([&] { import_onnx(conv_1d); },
                     {"node 'the_node' (Conv)", "reads images [batch, channels, height, width]"});
  const auto indices = image_node(directory, "MaxPool", kernel, {2, 3, 6, 6}, 2);
  expect_input_error([&] { import_onnx(indices); }, {"(MaxPool)", "Indices output"});
  const auto dilated = image_node(directory, "MaxPool", [&](OnnxBuilder& b, onnx::NodeProto& n) {
    kernel(b, n);
    OnnxBuilder::set(n, "dilations", std::vector<int64_t>{2, 2});
  });
  expect_input_error([&] { import_onnx(dilated); }, {"(MaxPool)", "dilations [2, 2]"});
  const auto auto_pad = image_node(directory, "AveragePool", [&](OnnxBuilder& b, auto& n) {
    kernel(b, n);
    auto* attribute = n.add_attribute();
    attribute->set_name("auto_pad");
    attribute->set_type(onnx::AttributeProto_AttributeType_STRING);
    attribute->set_s("SAME_MIDDLE");
  });
  expect_input_error([&] { import_onnx(auto_pad); }, {"(AveragePool)", "unknown auto_pad"});
  expect_input_error([&] { import_onnx(batch_norm_model(directory, true)); },
                     {"(BatchNormalization)", "running statistics are read"});
  const auto mismatch = image_node(directory, "Conv", [](OnnxBuilder&, onnx::NodeProto& node) {
    node.add_input("w");
    OnnxBuilder::set(node, "kernel_shape", std::vector<int64_t>{5, 5});
  });
  expect_input_error([&] { import_onnx(mismatch); }, {"(Conv)", "kernel_shape does not match"});
  const auto groups = image_node(directory, "Conv", [](OnnxBuilder&, onnx::NodeProto& node) {
    node.add_input("w");
    OnnxBuilder::set(node, "group", int64_t{2});
  });
  expect_input_error([&] { import_onnx(groups); }, {"(Conv)", "groups 2"});
  const auto huge = image_node(directory, "Conv", [](OnnxBuilder&, onnx::NodeProto& node) {
    node.add_input("w");
    OnnxBuilder::set(node, "pads", std::vector<int64_t>{0, 0, int64_t{1} << 40, 0});
  });
  expect_input_error([&] { import_onnx(huge); }, {"(Conv)", "pads", "each must be in [0, "});
  const auto stride = image_node(directory, "MaxPool", [&](OnnxBuilder& b, auto& n) {
    kernel(b, n);
    OnnxBuilder::set(n, "strides", std::vector<int64_t>{INT64_MAX, 1});
    OnnxBuilder::set(n, "ceil_mode", int64_t{1});
  });
  expect_input_error([&] { import_onnx(stride); }, {"(MaxPool)", "strides must be in [1, "});
}

}  // namespace
}  // namespace loom::testing
