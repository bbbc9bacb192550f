// `layers:` sugar: every layer kind expands into the nodes an explicit graph would write,
// with Keras's names and defaults.

#include <gtest/gtest.h>

#include <algorithm>

#include "engine/config/build_graph.hpp"
#include "engine/config/experiment.hpp"
#include "engine/core/error.hpp"
#include "engine/graph/op.hpp"

namespace loom {
namespace {

Experiment experiment_with_layers(const std::string& input, const std::string& layers,
                                  const std::string& loss = "categorical_crossentropy") {
  const std::string text = R"(data:
  root: /usr/share/datasets/fashion-mnist
  train: {images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz}
model:
  input: )" + input + R"(
  layers:
)" + layers + R"(
trainer: {loss: )" + loss + "}\n";
  return parse_experiment(text, "layers.yaml", ".");
}

std::vector<std::string> forward_ops(const Graph& graph) {
  std::vector<std::string> ops;
  for (const Node& node : graph.nodes()) {
    if (!node.backward) ops.emplace_back(node.op->name());
  }
  return ops;
}

TEST(Layers, EveryKindExpandsAndFuses) {
  const Experiment experiment = experiment_with_layers("[28, 28]", R"(    - {flatten: {}}
    - {dense: 64, activation: gelu, kernel_regularizer: {l2: 0.001}}
    - {dropout: 0.25}
    - {dense: 32, activation: relu}
    - {activation: exponential}
    - {dense: 10, activation: softmax})");
  const Graph graph = build_training_graph(experiment, 8);
  EXPECT_EQ(
      forward_ops(graph),
      (std::vector<std::string>{"flatten", "fused_matmul", "gelu", "dropout", "fused_matmul", "exp",
                                "fused_matmul", "softmax_crossentropy", "l2_penalty", "add"}));
  // Keras's names: dense, dense_1, dense_2; the kernel regularized; the dropout seeded.
  EXPECT_TRUE(graph.find_value("dense_2/kernel").has_value());
  const auto& parameters = experiment.model.parameters;
  const auto kernel =
      std::ranges::find(parameters, std::string("dense/kernel"), &ParameterSpec::name);
  ASSERT_NE(kernel, parameters.end());
  EXPECT_DOUBLE_EQ(kernel->l2, 0.001);
  const auto dropout =
      std::ranges::find(experiment.model.nodes, std::string("dropout"), &NodeSpec::name);
  ASSERT_NE(dropout, experiment.model.nodes.end());
  EXPECT_DOUBLE_EQ(dropout->attributes.get_real("rate", 0), 0.25);
  EXPECT_TRUE(dropout->attributes.has("seed"));
  // Only the dense layer with relu gets the activation fused into its matmul.
  const Node& second = graph.node(graph.value(graph.value_named("dense_1/relu")).producer);
  EXPECT_EQ(second.attributes.get_text("activation", "none"), "relu");
}

TEST(Layers, EveryKerasActivationNameIsAccepted) {
  for (const std::string& activation : known_activations()) {
    const Experiment experiment =
        experiment_with_layers("[784]", "    - {dense: 16, activation: " + activation +
                                            "}\n    - {dense: 10, activation: softmax}");
    EXPECT_NO_THROW(build_training_graph(experiment, 4)) << activation;
  }
}

void expect_layer_error(const std::string& input, const std::string& layers,
                        const std::string& expected) {
  try {
    experiment_with_layers(input, layers);
    FAIL() << "expected an error: " << expected;
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find(expected), std::string::npos)
        << "got: " << error.what();
  }
}

TEST(Layers, MistakesAreReportedAtTheLayer) {
  expect_layer_error(
      "[28, 28]", "    - {dense: 10, activation: softmax}",
      "layers.yaml:7:7: model.layers[0]: dense needs a flat input per sample, got [28, 28]");
  expect_layer_error("[784]", "    - {dense: 10, activation: sofmax}",
                     "model.layers[0].activation: unknown activation 'sofmax'");
  expect_layer_error("[784]", "    - {dense: 10, units: 10}",
                     "model.layers[0].units: unknown key 'units' for a dense layer");
  expect_layer_error("[784]", "    - {conv3d: 3}", "expected a layer: a map with one of the keys");
  expect_layer_error("[784]", "    - {conv2d: 8, kernel_size: 3}",
                     "conv2d needs images [height, width, channels] per sample, got [784]");
  expect_layer_error("[4, 4, 1]", "    - {conv2d: 8, kernel_size: 5}",
                     "the window does not fit the layer's input [4, 4, 1] with padding 'valid'");
  expect_layer_error("[8, 8, 1]", "    - {max_pool2d: 2, padding: full}", "unknown padding 'full'");
  expect_layer_error("[784]", "    - {dropout: 1.5}",
                     "model.layers[0].dropout: expected a number in [0, 0.999]");
  expect_layer_error("[784]", "    - {dense: 10, kernel_regularizer: {l1: 0.1}}",
                     "kernel_regularizer.l1: unknown key 'l1' for a regularizer");
  expect_layer_error("[784]", "    - {flatten: 3}", "flatten takes no options");
}

TEST(Layers, TheBooksConvnetHasKerasParameterCount) {
  const Experiment experiment =
      experiment_with_layers("[28, 28, 1]", R"(    - {conv2d: 32, kernel_size: 3, activation: relu}
    - {max_pool2d: 2}
    - {conv2d: 64, kernel_size: 3, activation: relu}
    - {max_pool2d: 2}
    - {conv2d: 64, kernel_size: 3, activation: relu}
    - {flatten: {}}
    - {dense: 64, activation: relu}
    - {dense: 10, activation: softmax})");
  int64_t count = 0;
  for (const ParameterSpec& parameter : experiment.model.parameters)
    count += numel(parameter.shape);
  EXPECT_EQ(count, 93322);  // what Keras's model.summary() prints for this model
  const Graph graph = build_evaluation_graph(experiment, 2);
  EXPECT_EQ(graph.value(graph.value_named("flatten")).type.shape, (Shape{2, 576}));
}

TEST(Layers, BatchNormAndPoolingKinds) {
  const Experiment experiment = experiment_with_layers(
      "[8, 8, 3]",
      R"(    - {conv2d: 4, kernel_size: [3, 1], strides: 2, padding: same, activation: tanh}
    - {batch_norm: {}, momentum: 0.9}
    - {avg_pool2d: {}, padding: same}
    - {global_avg_pool2d: {}}
    - {dense: 10, activation: softmax})");
  const Graph graph = build_training_graph(experiment, 2);
  EXPECT_EQ(forward_ops(graph), (std::vector<std::string>{"conv2d", "tanh", "batch_norm",
                                                          "avg_pool2d", "global_avg_pool2d",
                                                          "fused_matmul", "softmax_crossentropy"}));
  // Keras's BatchNormalization: gamma and beta train, the moving statistics do not.
  for (const ParameterSpec& parameter : experiment.model.parameters) {
    if (parameter.name.starts_with("batch_norm/")) {
      EXPECT_EQ(parameter.trainable, !parameter.name.ends_with("moving_mean") &&
                                         !parameter.name.ends_with("moving_variance"))
          << parameter.name;
    }
  }
  EXPECT_EQ(graph.value(graph.value_named("avg_pool2d")).type.shape, (Shape{2, 2, 2, 4}));
}

TEST(Losses, OptionsAreTheLossOpsAttributes) {
  const Experiment huber =
      experiment_with_layers("[784]", "    - {dense: 10}", "{huber: {delta: 2.0}}");
  EXPECT_EQ(huber.trainer.loss.name, "huber");
  EXPECT_DOUBLE_EQ(huber.trainer.loss.attributes.get_real("delta", 0), 2.0);
  EXPECT_NO_THROW(build_training_graph(huber, 4));
  try {
    experiment_with_layers("[784]", "    - {dense: 10}", "{huber: {delt: 2.0}}");
    FAIL();
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("unknown key 'delt' for loss 'huber' (known: delta)"),
              std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace loom
