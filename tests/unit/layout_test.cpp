// Layout negotiation: what counts as the same arrangement, where the pass puts reorders, and
// the proof that it changes nothing but speed: a training step of small convnets computes
// the same loss and gradients with negotiated layouts as with plain ones.

#include "engine/exec/layout.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/exec/plan.hpp"
#include "engine/graph/autodiff.hpp"
#include "engine/graph/op.hpp"
#include "engine/graph/passes.hpp"
#include "tests/support/op_harness.hpp"
#include "tests/support/step_result.hpp"

namespace loom::testing {
namespace {

using Tag = dnnl::memory::format_tag;

dnnl::memory::desc image(int64_t channels, Tag tag) {
  return dnnl::memory::desc({2, channels, 5, 5}, dnnl::memory::data_type::f32, tag);
}

TEST(Layout, OneChannelImagesAreTheSameBytesInNchwAndNhwc) {
  EXPECT_TRUE(same_arrangement(image(1, Tag::nchw), image(1, Tag::nhwc)));
  EXPECT_FALSE(same_arrangement(image(3, Tag::nchw), image(3, Tag::nhwc)));
  EXPECT_FALSE(same_arrangement(image(16, Tag::nhwc), image(16, Tag::nChw16c)));
}

TEST(Layout, AChoiceThatArrangesBytesAsPlainIsPlain) {
  EXPECT_TRUE(Layout::chosen(image(1, Tag::nchw), image(1, Tag::nhwc)).is_plain());
  const Layout blocked = Layout::chosen(image(32, Tag::nChw16c), image(32, Tag::nhwc));
  EXPECT_FALSE(blocked.is_plain());
  EXPECT_EQ(blocked.describe(), "aBcd16b");
  EXPECT_FALSE(blocked.compatible(Layout()));
  EXPECT_TRUE(blocked.compatible(Layout::chosen(image(32, Tag::nChw16c), image(32, Tag::nhwc))));
}

TEST(Layout, BlockedFormatsPadTheirBuffers) {
  // 3 channels in blocks of 16 take 16 channels of room.
  const Layout padded = Layout::chosen(image(3, Tag::nChw16c), image(3, Tag::nhwc));
  EXPECT_EQ(padded.bytes(2 * 3 * 5 * 5 * 4), 2 * 16 * 5 * 5 * 4);
}

// ---- small convnets built layer by layer ------------------------------------------------------

// "conv" (16 channels, relu), "conv20" (20 channels: blocks of 16 pad the last one), "batch_norm",
// "max_pool" (2×2), "max_pool3" (3×3 stride 2 same: windows overlap and reach into the padding),
// "avg_pool" on [N, H, W, C] images, then flatten, a dense layer and a softmax crossentropy over
// 5 classes; differentiated, and a max pool's backward fused with its convolution's relu as the
// trainer's graphs are.
Graph convnet(const std::vector<std::string>& layers, bool fuse = true) {
  Graph graph;
  ValueId h = graph.add_input("x", {DType::f32, {4, 12, 12, 3}});
  int64_t channels = 3;
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string name = layers[i] + std::to_string(i);
    if (layers[i].starts_with("conv")) {
      const int64_t filters = layers[i] == "conv20" ? 20 : 16;
      const ValueId kernel = graph.add_parameter(
          name + "/kernel", {DType::f32, {3, 3, channels, filters}}, {"he_uniform"});
      const ValueId bias = graph.add_parameter(name + "/bias", {DType::f32, {filters}}, {"zeros"});
      h = graph.add_node1(name, "conv2d", {h, kernel, bias},
                          {{"activation", std::string("relu")}, {"padding", std::string("same")}});
      channels = filters;
    } else if (layers[i] == "batch_norm") {
      const TensorType per_channel{DType::f32, {channels}};
      const ValueId gamma = graph.add_parameter(name + "/gamma", per_channel, {"ones"});
      const ValueId beta = graph.add_parameter(name + "/beta", per_channel, {"zeros"});
      const ValueId mean = graph.add_parameter(name + "/mean", per_channel, {"zeros"}, false);
      const ValueId variance =
          graph.add_parameter(name + "/variance", per_channel, {"ones"}, false);
      h = graph.add_node(name, "batch_norm", {h, gamma, beta, mean, variance})[0];
    } else if (layers[i] == "max_pool3") {
      h = graph.add_node1(
          name, "max_pool2d", {h},
          {{"pool_size", Shape{3, 3}}, {"strides", Shape{2, 2}}, {"padding", std::string("same")}});
    } else {
      const std::string op = layers[i] == "max_pool" ? "max_pool2d" : "avg_pool2d";
      h = graph.add_node(name, op, {h})[0];
    }
  }
  h = graph.add_node1("flatten", "flatten", {h});
  const int64_t features = graph.value(h).type.shape[1];
  const ValueId w =
      graph.add_parameter("dense/kernel", {DType::f32, {features, 5}}, {"glorot_uniform"});
  const ValueId logits = graph.add_node1("dense", "matmul", {h, w});
  const ValueId labels = graph.add_input("labels", {DType::i32, {4}}, ValueRole::label);
  const ValueId p = graph.add_node1("p", "softmax", {logits});
  graph.set_prediction(p);
  graph.set_loss(graph.add_node1("loss", "sparse_categorical_crossentropy", {p, labels}));
  graph.set_training(true);
  differentiate(graph);
  if (fuse) fuse_max_pool_relu_backward(graph);
  return graph;
}

// A graph compiled into a plan, with the parameters and runtime the plan binds to.
struct Compiled {
  Compiled(const Graph& graph, LayoutPolicy policy, uint64_t seed = 1) {
    store.initialize_from(graph, seed);
    runtime.layouts = policy;
    plan = std::make_unique<Plan>(graph, store, runtime);
  }
  ParameterStore store;
  Runtime runtime;
  std::unique_ptr<Plan> plan;
};

StepResult training_step(const Graph& graph, LayoutPolicy policy) {
  Compiled compiled(graph, policy, 11);
  Plan& plan = *compiled.plan;
  const std::vector<float> x = random_values(4 * 12 * 12 * 3, 5);
  std::copy(x.begin(), x.end(), plan.f32(graph.value_named("x")));
  const int32_t labels[4] = {0, 3, 1, 4};
  std::copy(labels, labels + 4, plan.i32(graph.value_named("labels")));
  plan.run();
  return read_step_result(plan, graph);
}

int reorder_nodes(const Plan& plan) {
  return static_cast<int>(std::ranges::count_if(
      plan.graph().nodes(), [](const Node& node) { return node.op->name() == "reorder"; }));
}

class NegotiatedLayouts : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(NegotiatedLayouts, TrainingStepMatchesPlainLayouts) {
  const Graph graph = convnet(GetParam());
  const StepResult plain = training_step(graph, LayoutPolicy::plain);
  const StepResult negotiated = training_step(graph, LayoutPolicy::negotiated);
  EXPECT_NEAR(negotiated.loss, plain.loss, 1e-5f * std::max(1.f, std::abs(plain.loss)));
  ASSERT_EQ(negotiated.gradients.size(), plain.gradients.size());
  for (size_t p = 0; p < plain.gradients.size(); ++p) {
    const std::string& name = graph.value(graph.parameter_gradients()[p].parameter).name;
    for (size_t i = 0; i < plain.gradients[p].size(); ++i) {
      const float expected = plain.gradients[p][i];
      ASSERT_NEAR(negotiated.gradients[p][i], expected, 1e-4f * std::max(1.f, std::abs(expected)))
          << name << "[" << i << "]";
    }
  }
}

// Two convolutions with pooling between them (dy of the pooling comes from a convolution,
// blocked), pooling right before the flatten (its dy arrives plain, while the forward ran
// blocked), average pooling, and batch normalization between convolutions; max pooling's own
// backward loop through a relu on padded channel blocks and on overlapping windows.
INSTANTIATE_TEST_SUITE_P(
    Convnets, NegotiatedLayouts,
    ::testing::Values(std::vector<std::string>{"conv", "max_pool", "conv"},
                      std::vector<std::string>{"conv", "conv", "max_pool"},
                      std::vector<std::string>{"conv", "avg_pool", "conv", "avg_pool"},
                      std::vector<std::string>{"max_pool", "conv"},
                      std::vector<std::string>{"conv", "batch_norm", "conv", "batch_norm"},
                      std::vector<std::string>{"conv20", "max_pool", "conv"},
                      std::vector<std::string>{"conv", "max_pool3", "conv20", "max_pool3"}));

int count_nodes(const Graph& graph, std::string_view op) {
  return static_cast<int>(std::ranges::count_if(
      graph.nodes(), [&](const Node& node) { return node.op->name() == op; }));
}

// A fused graph's training step against the graph it was fused from: the same loss and
// gradients, bit for bit, in the plain layout and in the blocked one.
void expect_the_same_step(const Graph& fused, const Graph& unfused) {
  for (const LayoutPolicy policy : {LayoutPolicy::plain, LayoutPolicy::negotiated}) {
    const StepResult expected = training_step(unfused, policy);
    const StepResult actual = training_step(fused, policy);
    EXPECT_EQ(actual.loss, expected.loss);
    ASSERT_EQ(actual.gradients.size(), expected.gradients.size());
    for (size_t p = 0; p < expected.gradients.size(); ++p) {
      for (size_t i = 0; i < expected.gradients[p].size(); ++i) {
        ASSERT_EQ(actual.gradients[p][i], expected.gradients[p][i])
            << "parameter " << p << "[" << i << "]";
      }
    }
  }
}

// The fused max pool backward takes each convolution's relu along: the same gradients as the
// relu_backward it replaces, in the plain layout and in the blocked one, for tiling windows
// and for overlapping ones reaching into the padding, on padded channel blocks.
TEST(FusedMaxPoolRelu, GivesTheGradientsOfThePairItReplaces) {
  const std::vector<std::string> layers = {"conv20", "max_pool", "conv", "max_pool3"};
  const Graph unfused = convnet(layers, false);
  const Graph fused = convnet(layers, true);
  EXPECT_EQ(count_nodes(unfused, "relu_backward"), 2);
  EXPECT_EQ(count_nodes(fused, "relu_backward"), 0) << fused.describe();
  EXPECT_EQ(count_nodes(fused, "max_pool2d_backward"), 2);
  expect_the_same_step(fused, unfused);
}

// Convolutions followed by relu nodes, as an imported model has them (`fuse`: with
// fuse_conv_relu run, as graphs are built), the second 16 to 16 channels (Winograd on
// AVX-512).
Graph convnet_with_relu_nodes(bool fuse) {
  Graph graph;
  ValueId h = graph.add_input("x", {DType::f32, {4, 12, 12, 3}});
  int64_t channels = 3;
  for (const char* name : {"conv_a", "conv_b"}) {
    const ValueId kernel = graph.add_parameter(std::string(name) + "/kernel",
                                               {DType::f32, {3, 3, channels, 16}}, {"he_uniform"});
    const ValueId bias =
        graph.add_parameter(std::string(name) + "/bias", {DType::f32, {16}}, {"zeros"});
    h = graph.add_node1(name, "conv2d", {h, kernel, bias}, {{"padding", std::string("same")}});
    h = graph.add_node1(std::string(name) + "/relu", "relu", {h});
    if (channels == 3) h = graph.add_node1("pool", "max_pool2d", {h});
    channels = 16;
  }
  h = graph.add_node1("flatten", "flatten", {h});
  const ValueId w = graph.add_parameter(
      "dense/kernel", {DType::f32, {graph.value(h).type.shape[1], 5}}, {"glorot_uniform"});
  const ValueId p = graph.add_node1("p", "softmax", {graph.add_node1("dense", "matmul", {h, w})});
  const ValueId labels = graph.add_input("labels", {DType::i32, {4}}, ValueRole::label);
  graph.set_prediction(p);
  graph.set_loss(graph.add_node1("loss", "sparse_categorical_crossentropy", {p, labels}));
  if (fuse) {
    EXPECT_EQ(fuse_conv_relu(graph), 2);
  }
  graph.set_training(true);
  differentiate(graph);
  fuse_max_pool_relu_backward(graph);
  return graph;
}

// The relu folded into the convolution as its post-op: the same loss and gradients, bit for
// bit, as the separate relu node, in the plain layout and in the blocked one.
TEST(FusedConvRelu, GivesTheStepOfThePairItReplaces) {
  const Graph unfused = convnet_with_relu_nodes(false);
  const Graph fused = convnet_with_relu_nodes(true);
  EXPECT_EQ(count_nodes(unfused, "relu"), 2);
  EXPECT_EQ(count_nodes(fused, "relu"), 0) << fused.describe();
  expect_the_same_step(fused, unfused);
}

// A relu whose output is read by more than the pool gets its gradient summed first: nothing
// to fuse.
TEST(FusedMaxPoolRelu, LeavesAReluWithOtherReadersAlone) {
  Graph graph;
  const ValueId x = graph.add_input("x", {DType::f32, {2, 6, 6, 4}});
  const ValueId kernel = graph.add_parameter("kernel", {DType::f32, {3, 3, 4, 4}}, {"he_uniform"});
  const ValueId a =
      graph.add_node1("conv", "conv2d", {x, kernel},
                      {{"activation", std::string("relu")}, {"padding", std::string("same")}});
  const ValueId pooled = graph.add_node1("pool", "max_pool2d", {a});
  const ValueId both = graph.add_node1(
      "both", "add",
      {graph.add_node1("f1", "flatten", {pooled}),
       graph.add_node1("f2", "flatten", {graph.add_node1("pool2", "avg_pool2d", {a})})});
  graph.set_loss(graph.add_node1("loss", "reduce_sum", {both}, {{"axes", Shape{0, 1}}}));
  graph.set_training(true);
  differentiate(graph);
  EXPECT_EQ(fuse_max_pool_relu_backward(graph), 0);
  EXPECT_EQ(count_nodes(graph, "relu_backward"), 1);
}

TEST(LayoutPass, ActivationsStayBlockedBetweenConvolutionsAndPools) {
  if (!has_direct_convolutions()) GTEST_SKIP() << "no direct convolution kernels below AVX2";
  const Graph graph = convnet({"conv", "max_pool", "conv"});
  const Compiled compiled(graph, LayoutPolicy::negotiated);
  const Plan& plan = *compiled.plan;
  EXPECT_EQ(plan.reorders(), reorder_nodes(plan));
  for (const Node& node : plan.graph().nodes()) {
    if (node.op->name() != "reorder") continue;
    // Every reorder has a plain side: a kernel from the parameter store, its gradient back to
    // it, the flatten both ways. None converts one oneDNN choice into another.
    const bool plain_in = plan.layout(node.inputs[0]).is_plain();
    const bool plain_out = plan.layout(node.outputs[0]).is_plain();
    EXPECT_NE(plain_in, plain_out) << node.name;
  }
  EXPECT_FALSE(plan.layout(plan.graph().value_named("conv0")).is_plain());
  EXPECT_FALSE(plan.layout(plan.graph().value_named("max_pool1")).is_plain())
      << "the pooling output stays in the convolution's blocked format";
}

TEST(LayoutPass, BatchNormKeepsTheConvolutionsFormat) {
  if (!has_direct_convolutions()) GTEST_SKIP() << "no direct convolution kernels below AVX2";
  const Graph graph = convnet({"conv", "batch_norm", "conv"});
  const Compiled compiled(graph, LayoutPolicy::negotiated);
  const Plan& plan = *compiled.plan;
  EXPECT_FALSE(plan.layout(plan.graph().value_named("batch_norm1")).is_plain());
  for (const Node& node : plan.graph().nodes()) {
    if (node.op->name() != "reorder") continue;
    EXPECT_NE(plan.layout(node.inputs[0]).is_plain(), plan.layout(node.outputs[0]).is_plain())
        << node.name;
    EXPECT_NE(node.inputs[0], plan.graph().value_named("conv0")) << "conv0 feeds batch_norm1 as is";
  }
}

TEST(LayoutPass, PlainPolicyInsertsNothing) {
  const Graph graph = convnet({"conv", "max_pool", "conv"});
  const Compiled compiled(graph, LayoutPolicy::plain);
  const Plan& plan = *compiled.plan;
  EXPECT_EQ(plan.reorders(), 0);
  EXPECT_EQ(plan.graph().nodes().size(), graph.nodes().size());
}

TEST(LayoutPass, AValueIsReorderedOnceForEveryReaderWantingTheSameLayout) {
  // One kernel read by two convolutions of the same shape: one reorder feeds both.
  Graph graph;
  const ValueId x = graph.add_input("x", {DType::f32, {2, 8, 8, 16}});
  const ValueId kernel =
      graph.add_parameter("kernel", {DType::f32, {3, 3, 16, 16}}, {"he_uniform"});
  const ValueId a = graph.add_node1("a", "conv2d", {x, kernel}, {{"padding", std::string("same")}});
  const ValueId b = graph.add_node1("b", "conv2d", {a, kernel}, {{"padding", std::string("same")}});
  graph.add_output(b);
  const Compiled compiled(graph, LayoutPolicy::negotiated);
  const Plan& plan = *compiled.plan;
  int kernel_reorders = 0;
  for (const Node& node : plan.graph().nodes()) {
    kernel_reorders += node.op->name() == "reorder" && node.inputs[0] == kernel;
  }
  EXPECT_LE(kernel_reorders, 1);
  EXPECT_TRUE(plan.layout(b).is_plain()) << "an output the caller reads ends the step plain";
}

}  // namespace
}  // namespace loom::testing
