// Reads an experiment file into a validated Experiment. Every check here reports the
// config position (file:line:col) and key path of the offending value.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "engine/config/build_graph.hpp"
#include "engine/config/experiment.hpp"
#include "engine/config/layer_expander.hpp"
#include "engine/config/loss_output_check.hpp"
#include "engine/config/node_order.hpp"
#include "engine/config/onnx_model.hpp"
#include "engine/config/read_data.hpp"
#include "engine/config/read_options.hpp"
#include "engine/config/read_trainer.hpp"
#include "engine/config/read_values.hpp"
#include "engine/config/resolved_config.hpp"
#include "engine/core/checked.hpp"
#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"
#include "engine/graph/op.hpp"
#include "engine/plugin/load_plugin.hpp"

namespace loom {

namespace fs = std::filesystem;

namespace {

// ---- model: explicit graph ---------------------------------------------------------------

NodeSpec read_node(ConfigNode node) {
  node.expect_map();
  NodeSpec spec;
  spec.where = node.where();
  spec.name = node.at("name").as_string();
  ConfigNode op_node = node.at("op");
  spec.op = op_node.as_string();
  const Op* op = OpRegistry::global().find(spec.op);
  if (!op) {
    op_node.fail("unknown op '" + spec.op +
                 "' (known: " + join_names(OpRegistry::global().names()) + ")");
  }
  // Backward helpers take the attributes and shapes their gradient rule gives them, and only
  // those: their shape rules do not check what a config could write.
  if (op->signature().internal) {
    op_node.fail("op '" + spec.op +
                 "' is a backward helper that autodiff emits, not an op a model can use");
  }
  ConfigNode inputs = node.at("inputs");
  inputs.expect_sequence();
  for (size_t i = 0; i < inputs.size(); ++i) spec.inputs.push_back(inputs[i].as_string());

  // Every other key is an attribute the op must declare.
  read_declared_options(node, op->signature().attributes, spec.attributes);
  node.finish("for op '" + spec.op + "'");
  return spec;
}

// A normalization layer's statistic of the model input, as the resolved config writes it:
// `adapt: mean` (variance, inverse_std) and `adapt_axis`, the input axis it is computed per
// index along (engine/train/adapt.hpp).
void read_adapt(ConfigNode& entry, ParameterSpec& spec, const Shape& input) {
  auto adapt = entry.find("adapt");
  if (!adapt) return;
  const std::string statistic = choose(*adapt, {"inverse_std", "mean", "variance"}, "statistic");
  spec.adapt = statistic == "mean"       ? ParameterSpec::Adapt::mean
               : statistic == "variance" ? ParameterSpec::Adapt::variance
                                         : ParameterSpec::Adapt::inverse_std;
  if (spec.trainable) adapt->fail("an adapted statistic must be trainable: false");
  ConfigNode axis = entry.at("adapt_axis");
  spec.adapt_axis = axis.as_int(0, std::ssize(input) - 1);
  // One statistic per index along the axis: the parameter holds exactly that many.
  const int64_t extent = input[size_t(spec.adapt_axis)];
  if (numel(spec.shape) != extent) {
    adapt->fail("the statistics along axis " + std::to_string(spec.adapt_axis) + " of the input " +
                to_string(input) + " are " + std::to_string(extent) + " values; the parameter " +
                to_string(spec.shape) + " holds " + std::to_string(numel(spec.shape)));
  }
}

void read_explicit_model(ConfigNode& node, ModelSpec& model) {
  ConfigNode inputs = node.at("inputs");
  inputs.expect_map();
  const auto input_entries = inputs.entries();
  if (input_entries.size() != 1) {
    inputs.fail("expected exactly one input (the data), got " +
                std::to_string(input_entries.size()));
  }
  model.input = {input_entries[0].first, read_shape(input_entries[0].second),
                 input_entries[0].second.where()};
  std::set<std::string> sources = {model.input.name};

  if (auto parameters = node.find("params")) {
    for (auto& [name, entry] : parameters->entries()) {
      entry.expect_map();
      ParameterSpec spec{.name = name, .where = entry.where()};
      spec.shape = read_shape(entry.at("shape"));
      if (auto init = entry.find("init")) spec.initializer = read_initializer(*init);
      if (auto value = entry.find("value")) {
        if (spec.initializer.name != "constant") value->fail("'value' needs init: constant");
        spec.initializer.value = value->as_real();
      }
      spec.trainable = entry.get_bool("trainable", true);
      read_adapt(entry, spec, model.input.shape);
      if (auto regularizer = entry.find("regularizer")) spec.l2 = read_l2(*regularizer);
      entry.finish();
      if (!sources.insert(name).second) entry.fail("the name '" + name + "' is defined twice");
      model.parameters.push_back(spec);
    }
  }

  ConfigNode nodes = node.at("nodes");
  nodes.expect_sequence();
  std::vector<NodeSpec> specs;
  if (nodes.size() == 0) nodes.fail("expected at least one node");
  expect_node_count(nodes);
  specs.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) specs.push_back(read_node(nodes[i]));
  model.nodes = topological_order(std::move(specs), sources);

  ConfigNode outputs = node.at("outputs");
  outputs.expect_sequence();
  if (outputs.size() != 1) {
    outputs.fail("expected exactly one output (models with several outputs are not supported yet)");
  }
  model.output = outputs[0].as_string();
  model.output_where = outputs[0].where();
  const bool produced =
      std::ranges::any_of(model.nodes, [&](const NodeSpec& n) { return n.name == model.output; });
  if (!produced) outputs[0].fail("output '" + model.output + "' is not the name of a node");
}

ModelSpec read_model(ConfigNode node, uint64_t seed, const fs::path& base) {
  node.expect_map();
  ModelSpec model;
  if (is_onnx_model(node)) {
    read_onnx_model(node, model, base);
    node.finish();
    return model;
  }
  // Look without asking: asking would make both forms' keys "known" in error messages.
  const bool has_layers = static_cast<bool>(node.yaml()["layers"]);
  const bool has_nodes = static_cast<bool>(node.yaml()["nodes"]);
  if (has_layers && has_nodes) {
    node.fail(
        "use either 'layers' or an explicit graph ('inputs', 'params', 'nodes', 'outputs'), not "
        "both");
  }
  if (has_layers) {
    read_layers_model(node, model, seed);
  } else if (has_nodes) {
    read_explicit_model(node, model);
  } else {
    node.fail(
        "expected 'layers' (with 'input'), an explicit graph ('inputs', 'params', 'nodes', "
        "'outputs') or 'onnx' (a model file)");
  }
  node.finish();
  return model;
}

// Plugins come first: the model may use the ops and optimizers they add.
std::vector<fs::path> load_plugins(ConfigNode& root, const fs::path& base) {
  std::vector<fs::path> loaded;
  const auto plugins = root.find("plugins");
  if (!plugins) return loaded;
  plugins->expect_sequence();
  for (size_t i = 0; i < plugins->size(); ++i) {
    const ConfigNode entry = (*plugins)[i];
    fs::path file = entry.as_string();
    if (file.is_relative()) file = base / file;
    try {
      load_plugin(file);
    } catch (const InputError& error) {
      entry.fail(error.what());
    }
    loaded.push_back(file);
  }
  return loaded;
}

// The name titles logs, reports and the generated run directory: one printable line.
std::string read_experiment_name(ConfigNode& root, const fs::path& source) {
  constexpr size_t kMaxNameLength = 200;
  const auto given = root.find("name");
  if (!given) return source.stem().string();
  const std::string name = given->as_string();
  if (name.empty() || name.size() > kMaxNameLength) {
    given->fail("expected a name of 1 to " + std::to_string(kMaxNameLength) + " characters, got " +
                std::to_string(name.size()));
  }
  if (std::ranges::any_of(name, [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
    given->fail("expected a name without control characters (newlines, tabs)");
  }
  return name;
}

Experiment read_experiment(ConfigNode root, const fs::path& source, const fs::path& base,
                           DataUse use) {
  root.expect_map();
  Experiment experiment;
  experiment.source = source;
  experiment.plugins = load_plugins(root, base);
  experiment.name = read_experiment_name(root, source);
  experiment.seed = static_cast<uint64_t>(root.get_int("seed", 42, 0));
  experiment.data = read_data(root.at("data"), base, use);
  experiment.model = read_model(root.at("model"), experiment.seed, base);
  if (experiment.data.augmentation && experiment.model.input.shape.size() != 3) {
    throw InputError(experiment.data.augmentation_where +
                     ": image augmentation needs a model input of "
                     "[height, width, channels], not " +
                     to_string(experiment.model.input.shape));
  }
  experiment.trainer = read_trainer(root.at("trainer"), experiment.data);
  root.finish();
  // Shapes are checked by building the graph once, exactly as training will (which then
  // uses this one).
  experiment.checked_training_graph = std::make_shared<const Graph>(
      build_training_graph(experiment, experiment.trainer.batch_size));
  const Graph& graph = *experiment.checked_training_graph;
  check_loss_fits_output(experiment, graph.value(*graph.prediction()).type.shape[1]);
  experiment.resolved = resolved_config(experiment);
  return experiment;
}

}  // namespace

Experiment parse_experiment(const std::string& text, const std::string& label,
                            const fs::path& base_directory, DataUse use,
                            const std::vector<std::string>& overrides) {
  ConfigNode root = ConfigNode::parse(text, label);
  for (const std::string& assignment : overrides) root.apply_override(assignment);
  return read_experiment(root, label, base_directory, use);
}

Experiment load_experiment(const fs::path& file, const std::vector<std::string>& overrides,
                           DataUse use) {
  ConfigNode root = ConfigNode::load_file(file);
  for (const std::string& assignment : overrides) root.apply_override(assignment);
  const fs::path base = file.has_parent_path() ? file.parent_path() : fs::path(".");
  return read_experiment(root, file, base, use);
}

}  // namespace loom
