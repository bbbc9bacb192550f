// A plugin's layer in the `layers:` form (the custom-op example's prelu): expanded into its
// parameter and node under the layer's name, its options read against its schema, frozen by
// `trainable: false`, and every misuse reported at the layer's config position.

#include <gtest/gtest.h>

#include <algorithm>

#include "engine/config/experiment.hpp"
#include "engine/plugin/layer.hpp"
#include "engine/plugin/load_plugin.hpp"
#include "tests/support/rejection.hpp"

namespace loom::testing {
namespace {

// A model of `layers` (YAML lines) on a [784] input; no data is read (DataUse::model).
Experiment model_with(const std::string& layers) {
  load_plugin(LOOM_EXAMPLE_PLUGIN);
  return parse_experiment(
      "data: {train: {format: npy, features: x.npy, targets: y.npy}}\n"
      "model:\n  input: [784]\n  layers:\n" +
          layers + "trainer: {optimizer: sgd, loss: sparse_categorical_crossentropy}\n",
      "layers.yaml", ".", DataUse::model);
}

const ParameterSpec& parameter(const Experiment& e, const std::string& name) {
  const auto found = std::ranges::find(e.model.parameters, name, &ParameterSpec::name);
  if (found == e.model.parameters.end()) throw std::runtime_error("no parameter " + name);
  return *found;
}

TEST(PluginLayer, ExpandsIntoItsParameterAndNode) {
  const Experiment e = model_with(
      "    - {dense: 16}\n    - {prelu: {}, alpha: 0.1}\n    - {prelu: {}}\n"
      "    - {dense: 10, activation: softmax}\n");
  const ParameterSpec& alpha = parameter(e, "prelu/alpha");
  EXPECT_EQ(alpha.shape, (Shape{16}));
  EXPECT_EQ(alpha.initializer.name, "constant");
  EXPECT_DOUBLE_EQ(alpha.initializer.value, 0.1);
  EXPECT_DOUBLE_EQ(parameter(e, "prelu_1/alpha").initializer.value, 0.25);  // the default
  const auto prelu = std::ranges::find(e.model.nodes, "prelu", &NodeSpec::name);
  ASSERT_NE(prelu, e.model.nodes.end());
  EXPECT_EQ(prelu->op, "prelu");
  EXPECT_EQ(prelu->inputs, (std::vector<std::string>{"dense/bias_add", "prelu/alpha"}));
  EXPECT_EQ(std::ranges::find(e.model.nodes, "dense_1/matmul", &NodeSpec::name)->inputs[0],
            "prelu_1");
}

TEST(PluginLayer, TrainableFalseFreezesIt) {
  const Experiment e = model_with(
      "    - {dense: 16}\n    - {prelu: {}, trainable: false}\n"
      "    - {dense: 10, activation: softmax}\n");
  EXPECT_FALSE(parameter(e, "prelu/alpha").trainable);
}

TEST(PluginLayer, MisuseIsReportedAtTheLayer) {
  expect_input_error([] { model_with("    - {prelu: 3}\n    - {dense: 10}\n"); },
                     {"layers.yaml:5:", "prelu takes its options beside it"});
  expect_input_error([] { model_with("    - {prelu: {}, alpha: fast}\n    - {dense: 10}\n"); },
                     {"layers.yaml:5:", "alpha"});
  expect_input_error([] { model_with("    - {prelu: {}, slope: 1}\n    - {dense: 10}\n"); },
                     {"layers.yaml:5:", "slope"});
  expect_input_error(
      [] { model_with("    - {flatten: {}}\n    - {conv: 3}\n    - {dense: 10}\n"); },
      {"layers.yaml:6:", "expected a layer", "normalization, prelu"});
}

TEST(PluginLayer, ItsOwnRefusalNamesTheLayer) {
  load_plugin(LOOM_EXAMPLE_PLUGIN);
  expect_input_error(
      [] {
        parse_experiment(
            "data: {train: {format: npy, features: x.npy, targets: y.npy}}\n"
            "model:\n  input: [4, 4, 1]\n  layers:\n    - {prelu: {}}\n    - {flatten: {}}\n"
            "    - {dense: 2, activation: softmax}\n"
            "trainer: {optimizer: sgd, loss: sparse_categorical_crossentropy}\n",
            "image.yaml", ".", DataUse::model);
      },
      {"image.yaml:5:", "prelu: prelu needs a flat input per sample, got [4, 4, 1]"});
}

TEST(PluginLayer, ABuiltInKindOrATakenNameCannotBeRegistered) {
  LayerRegistry registry;
  const LayerDefinition definition{.expand = [](LayerBuilder&, const Attributes&) {}};
  expect_input_error([&] { registry.add("dense", definition); }, {"built-in layer kind"});
  registry.add("mine", definition);
  expect_input_error([&] { registry.add("mine", definition); }, {"registered twice"});
  expect_input_error([&] { registry.add("empty", {}); }, {"no expand function"});
}

}  // namespace
}  // namespace loom::testing
