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
#include "engine/config/node_order.hpp"
#include "engine/core/checked.hpp"
#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"
#include "engine/graph/conv_geometry.hpp"
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

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::ranges::find(names, name) != names.end();
}

std::string choose(ConfigNode node, const std::vector<std::string>& known,
                   const std::string& what) {
  const std::string name = node.as_string();
  if (!contains(known, name)) {
    node.fail("unknown " + what + " '" + name + "' (known: " + join_names(known) + ")");
  }
  return name;
}

Shape read_shape(const ConfigNode& node) {
  if (!node.is_sequence() || node.size() == 0) {
    node.fail("expected a shape: a non-empty list of positive sizes, e.g. [784]");
  }
  Shape shape = node.as_int_list(1);
  try {
    numel(shape);  // a product that wraps (2^62+1 × 784 is 784) or exceeds 2^40 is refused here
  } catch (const SizeError& error) {
    node.fail(error.what());
  }
  return shape;
}

// ---- data ------------------------------------------------------------------------------

fs::path resolve_data_file(ConfigNode node, const fs::path& root) {
  const fs::path path = root / node.as_string();
  try {
    expect_regular_file(path, "data file");
  } catch (const InputError& error) {
    node.fail(error.what());
  }
  return path;
}

DatasetSpec read_dataset(ConfigNode node, const fs::path& root) {
  node.expect_map();
  DatasetSpec spec;
  spec.where = node.where();
  if (auto format = node.find("format")) spec.format = choose(*format, {"idx"}, "data format");
  spec.images = resolve_data_file(node.at("images"), root);
  spec.labels = resolve_data_file(node.at("labels"), root);
  spec.limit = node.get_int("limit", 0, 0);
  node.finish();
  return spec;
}

DataSpec read_data(ConfigNode node, const fs::path& config_directory) {
  node.expect_map();
  DataSpec spec;
  fs::path root = config_directory;
  if (auto given = node.find("root")) {
    root = fs::path(given->as_string());
    if (root.is_relative()) root = config_directory / root;
    std::error_code error;
    if (!fs::is_directory(root, error)) given->fail("not a directory: " + root.string());
  }
  spec.train = read_dataset(node.at("train"), root);
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

// Keras's regularizer {l2: factor} (unknown kinds such as l1 are reported as such first).
double read_l2(ConfigNode node) {
  node.expect_map();
  node.allow("l2");
  node.finish("for a regularizer");
  return node.at("l2").as_real(0.0);
}

// ---- model: explicit graph ---------------------------------------------------------------

Initializer read_initializer(ConfigNode node) {
  Initializer initializer;
  initializer.name = choose(node, initializer_names(), "initializer");
  return initializer;
}

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

// ---- model: layers sugar -----------------------------------------------------------------

// Expands `layers:` into parameters and nodes, naming them as Keras does (dense, dense_1, ...).
class LayerExpander {
 public:
  LayerExpander(ModelSpec& model, uint64_t seed)
      : model_(model), current_(model.input.name), seed_(seed) {
    features_ = model.input.shape;
  }

  void expand(ConfigNode layer) {
    layer.expect_map();
    // The layer's kind is its first key of these; dense also takes an `activation` option.
    const std::string kind = [&] {
      for (const char* candidate :
           {"dense", "conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d", "batch_norm",
            "dropout", "flatten", "activation"}) {
        if (layer.yaml()[candidate]) return std::string(candidate);
      }
      layer.fail(
          "expected a layer: a map with one of the keys activation, avg_pool2d, batch_norm, "
          "conv2d, dense, dropout, flatten, global_avg_pool2d, max_pool2d");
    }();
    if (kind == "dense") {
      dense(layer);
    } else if (kind == "conv2d") {
      conv2d(layer);
    } else if (kind == "max_pool2d" || kind == "avg_pool2d") {
      pool(layer, kind);
    } else if (kind == "global_avg_pool2d") {
      global_pool(layer);
    } else if (kind == "batch_norm") {
      batch_norm(layer);
    } else if (kind == "dropout") {
      dropout(layer);
    } else if (kind == "flatten") {
      flatten(layer);
    } else {
      const std::string name = layer_name(layer, "activation");
      activation(layer.at("activation"), name, layer.where());
      // Keras users write Dense(units=64, activation='relu'): say what the layer was read as.
      layer.finish(
          "for an activation layer (no other kind key was given; a dense layer is "
          "{dense: UNITS, activation: NAME})");
      return;
    }
    layer.finish("for a " + kind + " layer");
  }

  void finish() { model_.output = current_; }

 private:
  std::string layer_name(ConfigNode& layer, const std::string& kind) {
    if (auto given = layer.find("name")) {
      const std::string name = given->as_string();
      if (!names_.insert(name).second) given->fail("the layer name '" + name + "' is used twice");
      return name;
    }
    for (int index = 0;; ++index) {
      std::string name = index == 0 ? kind : kind + "_" + std::to_string(index);
      if (names_.insert(name).second) return name;
    }
  }

  void dense(ConfigNode& layer) {
    ConfigNode units_node = layer.at("dense");
    const int64_t units = units_node.as_int(1);
    const std::string name = layer_name(layer, "dense");
    if (features_.size() != 1) {
      layer.fail("dense needs a flat input per sample, got " + to_string(features_) +
                 " (set model.input to [" + std::to_string(numel(features_)) + "])");
    }
    ParameterSpec kernel =
        parameter(name + "/kernel", {features_[0], units}, "glorot_uniform", layer.where());
    if (auto init = layer.find("kernel_initializer")) kernel.initializer = read_initializer(*init);
    if (auto regularizer = layer.find("kernel_regularizer")) kernel.l2 = read_l2(*regularizer);
    model_.parameters.push_back(kernel);
    add_node(name + "/matmul", "matmul", {current_, kernel.name}, layer.where());

    if (layer.get_bool("use_bias", true)) {
      ParameterSpec bias = parameter(name + "/bias", {units}, "zeros", layer.where());
      if (auto init = layer.find("bias_initializer")) bias.initializer = read_initializer(*init);
      model_.parameters.push_back(bias);
      add_node(name + "/bias_add", "bias_add", {current_, bias.name}, layer.where());
    } else if (layer.has("bias_initializer")) {
      layer.at("bias_initializer").fail("a bias initializer needs use_bias: true");
    }
    features_ = {units};
    if (auto activation_node = layer.find("activation")) {
      activation(*activation_node, name, layer.where());
    }
  }

  static ParameterSpec parameter(const std::string& name, Shape shape,
                                 const std::string& initializer, const std::string& where) {
    numel(shape);  // a units or filters count can make the size wrap: name the layer
    ParameterSpec spec;
    spec.name = name;
    spec.shape = std::move(shape);
    spec.initializer.name = initializer;
    spec.where = where;
    return spec;
  }

  void activation(ConfigNode node, const std::string& layer, const std::string& where) {
    const std::string kind = choose(node, known_activations(), "activation");
    if (kind == "linear") return;
    // Keras calls the exp activation "exponential".
    const std::string op = kind == "exponential" ? "exp" : kind;
    add_node(layer + "/" + kind, op, {current_}, where);
  }

  // One or two positive integers, as Keras takes kernel_size, strides, pool_size.
  static std::vector<int64_t> pair_of(ConfigNode node) {
    std::vector<int64_t> values =
        node.is_scalar() ? std::vector<int64_t>{node.as_int(1)} : node.as_int_list(1);
    if (values.empty() || values.size() > 2) node.fail("expected one or two positive integers");
    for (const int64_t value : values) {
      if (value > kMaxWindowExtent) {
        node.fail(std::to_string(value) + " is larger than the limit of " +
                  std::to_string(kMaxWindowExtent) + " for a window");
      }
    }
    if (values.size() == 1) values.push_back(values[0]);
    return values;
  }

  void expect_image(ConfigNode& layer, const std::string& kind) {
    if (features_.size() != 3) {
      layer.fail(kind + " needs images [height, width, channels] per sample, got " +
                 to_string(features_) + " (channels last, as Keras: e.g. model.input [28, 28, 1])");
    }
  }

  // Reads strides/padding (and dilation) into node attributes and the output's spatial size.
  void window(ConfigNode& layer, Attributes& attributes, const std::vector<int64_t>& kernel,
              bool convolution) {
    const std::vector<int64_t> strides = layer.has("strides") ? pair_of(layer.at("strides"))
                                         : convolution        ? std::vector<int64_t>{1, 1}
                                                              : kernel;
    const std::string padding = layer.get_string("padding", "valid");
    if (padding != "valid" && padding != "same") {
      layer.at("padding").fail("unknown padding '" + padding + "' (known: same, valid)");
    }
    std::vector<int64_t> dilation = {1, 1};
    if (convolution && layer.has("dilation_rate")) dilation = pair_of(layer.at("dilation_rate"));
    attributes.set("strides", strides);
    attributes.set("padding", padding);
    if (convolution) attributes.set("dilation", dilation);
    for (int axis = 0; axis < 2; ++axis) {
      const auto computed = window_axis(features_[size_t(axis)], kernel[size_t(axis)],
                                        strides[size_t(axis)], dilation[size_t(axis)], padding);
      if (!computed) {
        layer.fail("the window does not fit the layer's input " + to_string(features_) +
                   " with padding 'valid'");
      }
      features_[size_t(axis)] = computed->output;
    }
  }

  // Keras's Conv2D(filters, kernel_size, strides=1, padding="valid", dilation_rate=1, ...).
  void conv2d(ConfigNode& layer) {
    const int64_t filters = layer.at("conv2d").as_int(1);
    const std::string name = layer_name(layer, "conv2d");
    expect_image(layer, "conv2d");
    const std::vector<int64_t> kernel = pair_of(layer.at("kernel_size"));
    ParameterSpec weights =
        parameter(name + "/kernel", {kernel[0], kernel[1], features_[2], filters}, "glorot_uniform",
                  layer.where());
    if (auto init = layer.find("kernel_initializer")) weights.initializer = read_initializer(*init);
    if (auto regularizer = layer.find("kernel_regularizer")) weights.l2 = read_l2(*regularizer);
    model_.parameters.push_back(weights);
    std::vector<std::string> inputs = {current_, weights.name};
    if (layer.get_bool("use_bias", true)) {
      ParameterSpec bias = parameter(name + "/bias", {filters}, "zeros", layer.where());
      if (auto init = layer.find("bias_initializer")) bias.initializer = read_initializer(*init);
      model_.parameters.push_back(bias);
      inputs.push_back(bias.name);
    }
    Attributes attributes;
    window(layer, attributes, kernel, true);
    features_[2] = filters;
    // relu rides on the convolution as a oneDNN post-op; other activations follow as nodes.
    std::string activation = "linear";
    if (auto node = layer.find("activation"))
      activation = choose(*node, known_activations(), "activation");
    if (activation == "relu") attributes.set("activation", std::string("relu"));
    model_.nodes.push_back({.name = name + "/conv2d",
                            .op = "conv2d",
                            .inputs = inputs,
                            .attributes = attributes,
                            .where = layer.where()});
    current_ = name + "/conv2d";
    if (activation != "linear" && activation != "relu") {
      add_node(name + "/" + activation, activation == "exponential" ? "exp" : activation,
               {current_}, layer.where());
    }
  }

  // Keras's MaxPooling2D / AveragePooling2D(pool_size=2, strides=pool_size, padding="valid").
  void pool(ConfigNode& layer, const std::string& kind) {
    const std::string name = layer_name(layer, kind);
    expect_image(layer, kind);
    const ConfigNode size = layer.at(kind);
    const std::vector<int64_t> pool_size = size.is_null() || (size.is_map() && size.size() == 0)
                                               ? std::vector<int64_t>{2, 2}
                                               : pair_of(size);
    Attributes attributes;
    attributes.set("pool_size", pool_size);
    window(layer, attributes, pool_size, false);
    model_.nodes.push_back({.name = name,
                            .op = kind,
                            .inputs = {current_},
                            .attributes = attributes,
                            .where = layer.where()});
    current_ = name;
  }

  // A layer kind written as {kind: {}}: it takes no value of its own.
  static void expect_no_value(ConfigNode& layer, const std::string& kind) {
    const ConfigNode value = layer.at(kind);
    if (!value.is_null() && !(value.is_map() && value.size() == 0)) {
      value.fail(kind + " takes its options beside it: write {" + kind + ": {}, ...}");
    }
  }

  void global_pool(ConfigNode& layer) {
    expect_no_value(layer, "global_avg_pool2d");
    expect_image(layer, "global_avg_pool2d");
    add_node(layer_name(layer, "global_avg_pool2d"), "global_avg_pool2d", {current_},
             layer.where());
    features_ = {features_[2]};
  }

  // Keras's BatchNormalization(momentum=0.99, epsilon=0.001) over the last axis.
  void batch_norm(ConfigNode& layer) {
    expect_no_value(layer, "batch_norm");
    const std::string name = layer_name(layer, "batch_norm");
    const int64_t channels = features_.back();
    const Attributes attributes = {{"momentum", layer.get_real("momentum", 0.99, 0.0, 1.0)},
                                   {"epsilon", layer.get_real("epsilon", 1e-3, 1e-12)}};
    std::vector<std::string> inputs = {current_};
    for (const auto& [suffix, initializer, trainable] :
         {std::tuple{"gamma", "ones", true}, std::tuple{"beta", "zeros", true},
          std::tuple{"moving_mean", "zeros", false},
          std::tuple{"moving_variance", "ones", false}}) {
      ParameterSpec spec = parameter(name + "/" + suffix, {channels}, initializer, layer.where());
      spec.trainable = trainable;
      model_.parameters.push_back(spec);
      inputs.push_back(spec.name);
    }
    model_.nodes.push_back({.name = name,
                            .op = "batch_norm",
                            .inputs = inputs,
                            .attributes = attributes,
                            .where = layer.where()});
    current_ = name;
  }

  // Keras's Dropout(rate, seed); without a seed, one derived from the experiment's seed and
  // the layer's position, so runs repeat.
  void dropout(ConfigNode& layer) {
    const double rate = layer.at("dropout").as_real(0.0, 0.999);
    const std::string name = layer_name(layer, "dropout");
    const int64_t seed =
        layer.get_int("seed", int64_t((seed_ + 7919 * model_.nodes.size()) >> 1), 0);
    model_.nodes.push_back({.name = name,
                            .op = "dropout",
                            .inputs = {current_},
                            .attributes = {{"rate", rate}, {"seed", seed}},
                            .where = layer.where()});
    current_ = name;
  }

  void flatten(ConfigNode& layer) {
    const ConfigNode options = layer.at("flatten");
    if (!options.is_null() && !(options.is_map() && options.size() == 0)) {
      options.fail("flatten takes no options: write {flatten: {}}");
    }
    add_node(layer_name(layer, "flatten"), "flatten", {current_}, layer.where());
    features_ = {numel(features_)};
  }

  void add_node(const std::string& name, const std::string& op, std::vector<std::string> inputs,
                const std::string& where) {
    model_.nodes.push_back({.name = name, .op = op, .inputs = std::move(inputs), .where = where});
    current_ = name;
  }

  ModelSpec& model_;
  std::string current_;
  uint64_t seed_;
  Shape features_;
  std::set<std::string> names_;
};

void read_layers_model(ConfigNode& node, ModelSpec& model, uint64_t seed) {
  ConfigNode input = node.at("input");
  model.input = {"input", read_shape(input), input.where()};
  ConfigNode layers = node.at("layers");
  layers.expect_sequence();
  if (layers.size() == 0) layers.fail("expected at least one layer");
  LayerExpander expander(model, seed);
  for (size_t i = 0; i < layers.size(); ++i) {
    // A size the layer's arithmetic refuses (a window wider than any input, a flatten of
    // more than 2^40 values) is the layer's fault: name its position.
    try {
      expander.expand(layers[i]);
    } catch (const SizeError& error) {
      layers[i].fail(error.what());
    }
  }
  expander.finish();
  model.output_where = layers[layers.size() - 1].where();
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

Experiment read_experiment(ConfigNode root, const fs::path& source, const fs::path& base) {
  root.expect_map();
  Experiment experiment;
  experiment.source = source;
  experiment.plugins = load_plugins(root, base);
  experiment.name = read_experiment_name(root, source);
  experiment.seed = static_cast<uint64_t>(root.get_int("seed", 42, 0));
  experiment.data = read_data(root.at("data"), base);
  experiment.model = read_model(root.at("model"), experiment.seed);
  experiment.trainer = read_trainer(root.at("trainer"), experiment.data);
  root.finish();
  // Shapes are checked by building the graph once, exactly as training will.
  build_training_graph(experiment, experiment.trainer.batch_size);
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
  return read_experiment(ConfigNode::parse(text, label), label, base_directory);
}

Experiment load_experiment(const fs::path& file, const std::vector<std::string>& overrides) {
  ConfigNode root = ConfigNode::load_file(file);
  for (const std::string& assignment : overrides) root.apply_override(assignment);
  const fs::path base = file.has_parent_path() ? file.parent_path() : fs::path(".");
  return read_experiment(root, file, base);
}

}  // namespace loom
