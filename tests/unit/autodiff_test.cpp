// The reverse sweep: which values get gradients, how fan-out is summed, and whether the
// whole generated backward graph is numerically right.

#include "engine/graph/autodiff.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/exec/plan.hpp"
#include "engine/graph/op.hpp"
#include "engine/graph/passes.hpp"
#include "tests/support/op_harness.hpp"

namespace loom::testing {
namespace {

int count_ops(const Graph& graph, std::string_view op, bool backward) {
  return static_cast<int>(std::ranges::count_if(graph.nodes(), [&](const Node& node) {
    return node.op->name() == op && node.backward == backward;
  }));
}

bool has_gradient(const Graph& graph, const std::string& parameter) {
  return std::ranges::any_of(graph.parameter_gradients(), [&](const ParameterGradient& g) {
    return graph.value(g.parameter).name == parameter;
  });
}

// x -> matmul(x, w) = z; z feeds relu and, a second time, the add: the gradient of z is the
// sum of two contributions and w is reached through both. A side branch (z2 = x·v, never
// used by the loss) must get no gradient nodes; the data input x gets none either.
Graph fan_out_graph() {
  Graph graph;
  const ValueId x = graph.add_input("x", {DType::f32, {3, 4}});
  const ValueId w = graph.add_parameter("w", {DType::f32, {4, 5}}, {"glorot_uniform"});
  const ValueId v = graph.add_parameter("v", {DType::f32, {4, 5}}, {"glorot_uniform"});
  const ValueId b = graph.add_parameter("b", {DType::f32, {5}}, {"zeros"});
  const ValueId z = graph.add_node1("z", "matmul", {x, w});
  graph.add_node1("unused", "matmul", {x, v});
  const ValueId a = graph.add_node1("a", "relu", {z});
  const ValueId s = graph.add_node1("s", "add", {a, z});
  const ValueId h = graph.add_node1("h", "bias_add", {s, b});
  const ValueId labels = graph.add_input("labels", {DType::i32, {3}}, ValueRole::label);
  const ValueId p = graph.add_node1("p", "softmax", {h});
  graph.set_prediction(p);
  graph.set_loss(graph.add_node1("loss", "sparse_categorical_crossentropy", {p, labels}));
  return graph;
}

TEST(Autodiff, GradientsOnlyForTrainableParametersThatReachTheLoss) {
  Graph graph = fan_out_graph();
  differentiate(graph);
  EXPECT_TRUE(has_gradient(graph, "w"));
  EXPECT_TRUE(has_gradient(graph, "b"));
  EXPECT_FALSE(has_gradient(graph, "v")) << "v only feeds a branch the loss never reads";
  // No backward node reads the side branch or computes a gradient for the data input:
  // the only backward matmul is dW = xᵀ·dz (dx is not wanted).
  EXPECT_EQ(count_ops(graph, "matmul", true), 1);
}

TEST(Autodiff, FanOutIsSummedByOneAddNode) {
  Graph graph = fan_out_graph();
  differentiate(graph);
  EXPECT_EQ(count_ops(graph, "add", true), 1) << graph.describe();
}

TEST(Autodiff, NonTrainableParametersGetNoGradient) {
  Graph graph;
  const ValueId x = graph.add_input("x", {DType::f32, {2, 3}});
  const ValueId frozen = graph.add_parameter("frozen", {DType::f32, {3, 3}}, {"ones"}, false);
  const ValueId w = graph.add_parameter("w", {DType::f32, {3, 2}}, {"ones"});
  const ValueId h = graph.add_node1("h", "matmul", {x, frozen});
  const ValueId y = graph.add_node1("y", "matmul", {h, w});
  const ValueId labels = graph.add_input("labels", {DType::i32, {2}}, ValueRole::label);
  graph.set_loss(graph.add_node1("loss", "sparse_categorical_crossentropy", {y, labels}));
  differentiate(graph);
  EXPECT_TRUE(has_gradient(graph, "w"));
  EXPECT_FALSE(has_gradient(graph, "frozen"));
  EXPECT_EQ(count_ops(graph, "matmul", true), 1) << "dh is not needed: nothing before it trains";
}

TEST(Autodiff, RejectsANonScalarLoss) {
  Graph graph;
  const ValueId w = graph.add_parameter("w", {DType::f32, {2, 2}}, {"ones"});
  graph.set_loss(graph.add_node1("r", "relu", {w}));
  EXPECT_THROW(differentiate(graph), InputError);
}

// The whole backward graph of the fan-out model, checked element by element against central
// differences of the loss.
TEST(Autodiff, FanOutGraphGradientsMatchFiniteDifferences) {
  Graph graph = fan_out_graph();
  fuse_softmax_crossentropy(graph);
  differentiate(graph);
  ParameterStore store;
  store.initialize_from(graph, 3);
  Runtime runtime;
  Plan plan(graph, store, runtime);
  const std::vector<float> x = random_values(12, 4);
  std::copy(x.begin(), x.end(), plan.f32(graph.value_named("x")));
  const int32_t labels[3] = {1, 4, 0};
  std::copy(labels, labels + 3, plan.i32(graph.value_named("labels")));
  const float* loss = plan.f32(*graph.loss());

  for (const ParameterGradient& g : graph.parameter_gradients()) {
    plan.run();
    const std::span<float> weights = store.at(graph.value(g.parameter).name);
    const std::vector<float> analytic(plan.f32(g.gradient), plan.f32(g.gradient) + weights.size());
    for (size_t j = 0; j < weights.size(); ++j) {
      const float original = weights[j];
      constexpr float h = 1e-2f;
      weights[j] = original + h;
      plan.run();
      const double up = *loss;
      weights[j] = original - h;
      plan.run();
      const double down = *loss;
      weights[j] = original;
      const double numeric = (up - down) / (2 * h);
      EXPECT_NEAR(analytic[j], numeric, 2e-3 + 2e-2 * std::abs(numeric))
          << graph.value(g.parameter).name << "[" << j << "]";
    }
  }
}

TEST(Passes, SoftmaxAndCrossentropyFuseIntoOneNodeThatKeepsBothValues) {
  Graph graph = fan_out_graph();
  const ValueId probabilities = *graph.prediction();
  const ValueId loss = *graph.loss();
  EXPECT_EQ(fuse_softmax_crossentropy(graph), 1);
  EXPECT_EQ(count_ops(graph, "softmax", false), 0);
  EXPECT_EQ(count_ops(graph, "softmax_crossentropy", false), 1);
  const Node& fused = graph.node(graph.value(loss).producer);
  EXPECT_EQ(fused.outputs, (std::vector<ValueId>{probabilities, loss}));
}

TEST(Passes, MatMulBiasReluChainsFuseButSharedValuesStay) {
  Graph graph;
  const ValueId x = graph.add_input("x", {DType::f32, {2, 3}});
  const ValueId w = graph.add_parameter("w", {DType::f32, {3, 4}}, {"ones"});
  const ValueId b = graph.add_parameter("b", {DType::f32, {4}}, {"zeros"});
  const ValueId z = graph.add_node1("z", "matmul", {x, w});
  const ValueId h = graph.add_node1("h", "bias_add", {z, b});
  const ValueId a = graph.add_node1("a", "relu", {h});
  // A second chain whose pre-activation is read twice: only matmul+bias_add may fuse.
  const ValueId w2 = graph.add_parameter("w2", {DType::f32, {4, 4}}, {"ones"});
  const ValueId z2 = graph.add_node1("z2", "matmul", {a, w2});
  const ValueId h2 = graph.add_node1("h2", "bias_add", {z2, b});
  const ValueId r2 = graph.add_node1("r2", "relu", {h2});
  graph.set_prediction(graph.add_node1("s", "add", {r2, h2}));

  EXPECT_EQ(fuse_matmul_bias_activation(graph), 2);
  EXPECT_EQ(count_ops(graph, "fused_matmul", false), 2);
  EXPECT_EQ(count_ops(graph, "relu", false), 1) << graph.describe();
  const Node& first = graph.node(graph.value(a).producer);
  EXPECT_EQ(first.op->name(), "fused_matmul");
  EXPECT_EQ(first.attributes.get_text("activation", "none"), "relu");
  EXPECT_EQ(first.inputs, (std::vector<ValueId>{x, w, b}));
  EXPECT_EQ(graph.value(h).producer, kNoProducer);  // folded away
  EXPECT_EQ(graph.node(graph.value(h2).producer).op->name(), "fused_matmul");
}

TEST(Passes, ConvReluPairsFuseButAReadPreActivationStays) {
  Graph graph;
  const ValueId x = graph.add_input("x", {DType::f32, {1, 5, 5, 2}});
  const ValueId k = graph.add_parameter("k", {DType::f32, {3, 3, 2, 2}}, {"ones"});
  const ValueId z = graph.add_node1("z", "conv2d", {x, k}, {{"padding", std::string("same")}});
  const ValueId a = graph.add_node1("a", "relu", {z});
  // The second convolution's output is read by its relu and by the sum: it must stay.
  const ValueId z2 = graph.add_node1("z2", "conv2d", {a, k}, {{"padding", std::string("same")}});
  const ValueId r2 = graph.add_node1("r2", "relu", {z2});
  graph.set_prediction(graph.add_node1("s", "add", {r2, z2}));

  EXPECT_EQ(fuse_conv_relu(graph), 1);
  EXPECT_EQ(count_ops(graph, "relu", false), 1) << graph.describe();
  const Node& first = graph.node(graph.value(a).producer);
  EXPECT_EQ(first.op->name(), "conv2d");
  EXPECT_EQ(first.name, "z+relu");
  EXPECT_EQ(first.attributes.get_text("activation", "none"), "relu");
  EXPECT_EQ(first.inputs, (std::vector<ValueId>{x, k}));
  EXPECT_EQ(graph.value(z).producer, kNoProducer);  // folded away
  EXPECT_EQ(graph.node(graph.value(z2).producer).attributes.get_text("activation", "none"), "none");
}

TEST(Passes, PruneDropsNodesNothingReads) {
  Graph graph = fan_out_graph();
  differentiate(graph);
  EXPECT_EQ(prune_dead_nodes(graph), 1);  // the "unused" matmul
  EXPECT_FALSE(
      std::ranges::any_of(graph.nodes(), [](const Node& n) { return n.name == "unused"; }));
}

}  // namespace
}  // namespace loom::testing
