#include "engine/config/layer_expander.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "engine/config/plugin_layer.hpp"
#include "engine/config/read_values.hpp"
#include "engine/core/checked.hpp"
#include "engine/core/error.hpp"
#include "engine/core/join_names.hpp"
#include "engine/graph/conv_geometry.hpp"

namespace loom {

namespace {

// Expands `layers:` into parameters and nodes, naming them as Keras does (dense, dense_1, ...).
class LayerExpander {
 public:
  LayerExpander(ModelSpec& model, uint64_t seed)
      : model_(model), current_(model.input.name), seed_(seed) {
    features_ = model.input.shape;
  }

  void expand(ConfigNode layer) {
    layer.expect_map();
    // The layer's kind is its first key of these (dense also takes an `activation` option,
    // so `activation` comes last), else a plugin's layer.
    const std::string kind = [&] {
      for (const char* candidate :
           {"dense", "conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d", "batch_norm",
            "dropout", "flatten", "normalization", "activation"}) {
        if (layer.yaml()[candidate]) return std::string(candidate);
      }
      std::string plugin_kind;
      if (find_plugin_layer(layer, plugin_kind)) return plugin_kind;
      std::vector<std::string> kinds = kBuiltinLayerKinds;
      for (const std::string& name : LayerRegistry::global().names()) kinds.push_back(name);
      std::ranges::sort(kinds);
      layer.fail("expected a layer: a map with one of the keys " + join_names(kinds));
    }();
    const bool trainable = layer.get_bool("trainable", true);
    const size_t first_parameter = model_.parameters.size(), first_node = model_.nodes.size();
    add_layer(layer, kind);
    if (!trainable) freeze(first_parameter, first_node);
  }

  void finish() { model_.output = current_; }

 private:
  void add_layer(ConfigNode& layer, const std::string& kind) {
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
    } else if (kind == "normalization") {
      normalization(layer);
    } else if (const LayerDefinition* plugin = LayerRegistry::global().find(kind)) {
      expand_plugin_layer(layer, kind, layer_name(layer, kind), *plugin,
                          {.model = model_, .current = current_, .features = features_});
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

  // Keras's `trainable: false` on a layer: the parameters it added get no gradient and no
  // optimizer slots, and its batch normalizations run in inference mode (frozen).
  void freeze(size_t first_parameter, size_t first_node) {
    for (size_t i = first_parameter; i < model_.parameters.size(); ++i) {
      model_.parameters[i].trainable = false;
    }
    for (size_t i = first_node; i < model_.nodes.size(); ++i) {
      if (model_.nodes[i].op == "batch_norm") model_.nodes[i].attributes.set("frozen", true);
    }
  }

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
    const std::string op = activation_op(kind);  // Keras's "exponential" is the exp op
    if (op.empty()) return;                      // linear
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
      add_node(name + "/" + activation, activation_op(activation), {current_}, layer.where());
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

  // Keras's Normalization layer: (x - mean) / max(sqrt(variance), 1e-7), the statistics per
  // index along `axis` (default the last), adapted on the training data before training
  // (engine/train/adapt.hpp) and kept in checkpoints like any weight. It reads the data, so
  // it must be the first layer. The parameters broadcast against the sample: [C, 1, ..., 1].
  void normalization(ConfigNode& layer) {
    ConfigNode options = layer.at("normalization");
    if (!options.is_null()) options.expect_map();
    const auto rank = std::ssize(features_);
    int64_t axis = rank - 1;
    if (auto given = options.is_null() ? std::nullopt : options.find("axis")) {
      axis = given->as_int(-rank, rank - 1);
      if (axis < 0) axis += rank;
    }
    if (!options.is_null()) options.finish("for a normalization layer");
    if (current_ != model_.input.name) {
      layer.fail("normalization adapts to the data, so it must be the first layer");
    }
    const std::string name = layer_name(layer, "normalization");
    Shape shape(size_t(rank - axis), 1);
    shape[0] = features_[size_t(axis)];
    std::vector<std::string> names;
    for (const auto& [suffix, statistic, initial] :
         {std::tuple{"mean", ParameterSpec::Adapt::mean, "zeros"},
          std::tuple{"variance", ParameterSpec::Adapt::variance, "ones"},
          std::tuple{"inverse_std", ParameterSpec::Adapt::inverse_std, "ones"}}) {
      ParameterSpec spec = parameter(name + "/" + suffix, shape, initial, layer.where());
      spec.trainable = false;
      spec.adapt = statistic;
      spec.adapt_axis = axis;
      model_.parameters.push_back(spec);
      names.push_back(spec.name);
    }
    add_node(name + "/center", "sub", {current_, names[0]}, layer.where());
    add_node(name, "mul", {current_, names[2]}, layer.where());
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

}  // namespace

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

}  // namespace loom
