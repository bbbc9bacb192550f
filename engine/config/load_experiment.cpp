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
#include "engine/config/node_order.hpp"
#include "engine/config/read_values.hpp"
#include "engine/config/resolved_config.hpp"
#include "engine/core/checked.hpp"
#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"
#include "engine/graph/op.hpp"
#include "engine/optim/optimizer.hpp"
#include "engine/optim/schedule.hpp"
#include "engine/plugin/load_plugin.hpp"

namespace loom {

namespace fs = std::filesystem;

const std::vector<std::string>& known_losses() {
  static const std::vector<std::string> names = {
      "binary_crossentropy", "categorical_crossentropy", "huber",
      "mean_absolute_error", "mean_squared_error",       "sparse_categorical_crossentropy"};
  return names;
}

const std::vector<std::string>& known_metrics() {
  static const std::vector<std::string> names = {"accuracy", "mse", "top_k_accuracy"};
  return names;
}

const std::vector<std::string>& known_activations() {
  static const std::vector<std::string> names = {"elu",     "exponential", "gelu",    "leaky_relu",
                                                 "linear",  "relu",        "sigmoid", "silu",
                                                 "softmax", "softplus",    "swish",   "tanh"};
  return names;
}

namespace {

// ---- data ------------------------------------------------------------------------------

// `checked`: the file must exist now (it is checked again when it is read).
fs::path resolve_data_file(ConfigNode node, const fs::path& root, bool checked) {
  const fs::path path = root / node.as_string();
  if (!checked) return path;
  try {
    expect_regular_file(path, "data file");
  } catch (const InputError& error) {
    node.fail(error.what());
  }
  return path;
}

DatasetSpec read_dataset(ConfigNode node, const fs::path& root, bool checked = true) {
  node.expect_map();
  DatasetSpec spec;
  spec.where = node.where();
  if (auto format = node.find("format")) spec.format = choose(*format, {"idx"}, "data format");
  spec.images = resolve_data_file(node.at("images"), root, checked);
  spec.labels = resolve_data_file(node.at("labels"), root, checked);
  spec.limit = node.get_int("limit", 0, 0);
  node.finish();
  return spec;
}

DataSpec read_data(ConfigNode node, const fs::path& config_directory, DataUse use) {
  node.expect_map();
  DataSpec spec;
  fs::path root = config_directory;
  if (auto given = node.find("root")) {
    root = fs::path(given->as_string());
    if (root.is_relative()) root = config_directory / root;
    std::error_code error;
    if (!fs::is_directory(root, error)) given->fail("not a directory: " + root.string());
  }
  spec.train = read_dataset(node.at("train"), root, use == DataUse::training);
  if (auto validation = node.find("validation")) spec.validation = read_dataset(*validation, root);
  if (auto split = node.find("validation_split")) {
    if (spec.validation)
      split->fail("give either data.validation or data.validation_split, not both");
    spec.validation_split = split->as_real(0.0, 0.99);
  }
  if (auto test = node.find("test")) spec.test = read_dataset(*test, root);
  spec.scale = node.get_real("scale", 1.0 / 255.0, 0.0);
  node.finish();
  return spec;
}

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
  for (const AttributeSpec& attribute : op->signature().attributes) {
    if (auto value = node.find(attribute.name)) {
      spec.attributes.set(attribute.name, read_attribute(*value, attribute.kind));
    }
  }
  node.finish("for op '" + spec.op + "'");
  return spec;
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

ModelSpec read_model(ConfigNode node, uint64_t seed) {
  node.expect_map();
  ModelSpec model;
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
        "expected 'layers' (with 'input') or an explicit graph ('inputs', 'params', 'nodes', "
        "'outputs')");
  }
  node.finish();
  return model;
}

// ---- trainer -----------------------------------------------------------------------------

// A name, or {name: {options}}: the name, where it is written, and the options (a null node
// when there are none).
struct NamedOptions {
  std::string name;
  std::string where;
  ConfigNode options;
};

NamedOptions name_and_options(ConfigNode node, const std::vector<std::string>& known,
                              const std::string& what) {
  NamedOptions named;
  if (node.is_scalar()) {
    named = {node.as_string(), node.where(), node.with(YAML::Node(), node.path())};
  } else {
    node.expect_map();
    auto entries = node.entries();
    if (entries.size() != 1) node.fail("expected a " + what + " name, or {name: {options}}");
    named = {entries[0].first, node.where_key(entries[0].first), entries[0].second};
  }
  if (!contains(known, named.name)) {
    throw InputError(named.where + ": unknown " + what + " '" + named.name +
                     "' (known: " + join_names(known) + ")");
  }
  if (!named.options.is_null()) named.options.expect_map();
  return named;
}

OptimizerSpec read_optimizer(ConfigNode node) {
  NamedOptions named = name_and_options(node, OptimizerRegistry::global().names(), "optimizer");
  OptimizerSpec spec{.name = named.name, .options = named.options};
  // Validate now, at the options' own positions: create one and throw it away.
  ConfigNode options = spec.options;
  OptimizerRegistry::global().create(spec.name, options);
  return spec;
}

// A loss is a name or {name: {options}}; the options are the loss op's attributes.
LossSpec read_loss(ConfigNode node) {
  NamedOptions named = name_and_options(node, known_losses(), "loss");
  LossSpec spec{.name = named.name, .where = named.where};
  spec.labels = spec.name.starts_with("sparse_") ? LabelEncoding::index : LabelEncoding::one_hot;
  if (!named.options.is_null()) {
    spec.where = named.options.where();
    for (const AttributeSpec& attribute :
         OpRegistry::global().get(spec.name).signature().attributes) {
      if (auto value = named.options.find(attribute.name)) {
        spec.attributes.set(attribute.name, read_attribute(*value, attribute.kind));
      }
    }
    named.options.finish("for loss '" + spec.name + "'");
  }
  return spec;
}

MetricSpec read_metric(ConfigNode node) {
  NamedOptions named = name_and_options(node, known_metrics(), "metric");
  MetricSpec spec{.name = named.name};
  if (!named.options.is_null()) {
    if (spec.name == "top_k_accuracy") spec.k = named.options.get_int("k", 5, 1);
    named.options.finish("for metric '" + spec.name + "'");
  }
  return spec;
}

// A metric to watch: one that the run reports (loss, a configured metric, or either of them
// on the validation or test data).
MonitorSpec read_monitor(ConfigNode& node, const std::string& fallback,
                         const std::vector<MetricSpec>& metrics, const DataSpec& data) {
  MonitorSpec monitor;
  monitor.metric = node.get_string("monitor", fallback);
  monitor.where = node.has("monitor") ? node.at("monitor").where() : node.where();
  monitor.mode = node.get_string("mode", "auto");
  if (monitor.mode != "auto" && monitor.mode != "min" && monitor.mode != "max") {
    node.at("mode").fail("unknown mode '" + monitor.mode + "' (known: auto, max, min)");
  }
  std::vector<std::string> reported;
  const bool validation = data.validation || data.validation_split > 0;
  for (const std::string& prefix : {std::string(), std::string("val_"), std::string("test_")}) {
    if (prefix == "val_" && !validation) continue;
    if (prefix == "test_" && !data.test) continue;
    reported.push_back(prefix + "loss");
    for (const MetricSpec& metric : metrics) reported.push_back(prefix + metric.name);
  }
  if (!contains(reported, monitor.metric)) {
    throw InputError(monitor.where + ": '" + monitor.metric +
                     "' is not reported by this run (reported: " + join_names(reported) + ")");
  }
  return monitor;
}

std::string default_monitor(const DataSpec& data) {
  if (data.validation || data.validation_split > 0) return "val_loss";
  return data.test ? "test_loss" : "loss";
}

void read_callbacks(ConfigNode node, TrainerSpec& spec, const DataSpec& data) {
  node.expect_map();
  if (auto early = node.find("early_stopping")) {
    EarlyStoppingSpec stopping;
    early->expect_map();
    stopping.monitor = read_monitor(*early, default_monitor(data), spec.metrics, data);
    stopping.patience = early->get_int("patience", 0, 0);
    stopping.min_delta = std::abs(early->get_real("min_delta", 0.0));
    stopping.restore_best_weights = early->get_bool("restore_best_weights", false);
    early->finish("for early_stopping");
    spec.early_stopping = stopping;
  }
  if (auto reduce = node.find("reduce_lr_on_plateau")) {
    make_reduce_lr_on_plateau(*reduce, 1.0);  // validates the options at their positions
    spec.reduce_lr_on_plateau = *reduce;
  }
  if (auto checkpoint = node.find("checkpoint")) {
    checkpoint->expect_map();
    spec.checkpoint.every_steps = checkpoint->get_int("every_steps", 0, 0);
    spec.checkpoint.monitor = read_monitor(*checkpoint, default_monitor(data), spec.metrics, data);
    checkpoint->finish("for checkpoint");
  }
  node.finish("for callbacks");
}

TrainerSpec read_trainer(ConfigNode node, const DataSpec& data) {
  node.expect_map();
  TrainerSpec spec;
  if (auto optimizer = node.find("optimizer")) spec.optimizer = read_optimizer(*optimizer);
  spec.loss = read_loss(node.at("loss"));
  if (auto metrics = node.find("metrics")) {
    metrics->expect_sequence();
    for (size_t i = 0; i < metrics->size(); ++i) {
      const MetricSpec metric = read_metric((*metrics)[i]);
      for (const MetricSpec& earlier : spec.metrics) {
        if (earlier.name == metric.name) {
          (*metrics)[i].fail("metric '" + metric.name + "' is listed twice");
        }
      }
      spec.metrics.push_back(metric);
    }
  }
  spec.batch_size = node.get_int("batch_size", 32, 1, 1 << 20);
  spec.batch_size_where = node.has("batch_size") ? node.at("batch_size").where() : node.where();
  spec.epochs = node.get_int("epochs", 1, 1, 1 << 20);
  spec.shuffle = node.get_bool("shuffle", true);
  if (auto policy = node.find("on_nonfinite")) {
    const std::string value = choose(*policy, {"skip", "stop"}, "on_nonfinite policy");
    spec.on_nonfinite =
        value == "skip" ? TrainerSpec::OnNonFinite::skip : TrainerSpec::OnNonFinite::stop;
  }
  spec.check_numerics = node.get_bool("check_numerics", false);
  spec.checkpoint.monitor.metric = default_monitor(data);
  if (auto callbacks = node.find("callbacks")) read_callbacks(*callbacks, spec, data);
  node.finish();
  return spec;
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
  experiment.model = read_model(root.at("model"), experiment.seed);
  experiment.trainer = read_trainer(root.at("trainer"), experiment.data);
  root.finish();
  // Shapes are checked by building the graph once, exactly as training will (which then
  // uses this one).
  experiment.checked_training_graph = std::make_shared<const Graph>(
      build_training_graph(experiment, experiment.trainer.batch_size));
  experiment.resolved = resolved_config(experiment);
  return experiment;
}

}  // namespace

AttributeValue read_attribute(const ConfigNode& node, AttributeKind kind) {
  switch (kind) {
    case AttributeKind::boolean:
      return node.as_bool();
    case AttributeKind::integer:
      return node.as_int();
    case AttributeKind::real:
      return node.as_real();
    case AttributeKind::text:
      return node.as_string();
    case AttributeKind::integers:
      return node.as_int_list();
  }
  node.fail("unsupported attribute kind");
}

Experiment parse_experiment(const std::string& text, const std::string& label,
                            const fs::path& base_directory) {
  return read_experiment(ConfigNode::parse(text, label), label, base_directory, DataUse::training);
}

Experiment load_experiment(const fs::path& file, const std::vector<std::string>& overrides,
                           DataUse use) {
  ConfigNode root = ConfigNode::load_file(file);
  for (const std::string& assignment : overrides) root.apply_override(assignment);
  const fs::path base = file.has_parent_path() ? file.parent_path() : fs::path(".");
  return read_experiment(root, file, base, use);
}

}  // namespace loom
