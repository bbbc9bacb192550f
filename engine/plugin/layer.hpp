#pragma once
// Layers a plugin adds to the `layers:` form. A layer is a name that expands, where it stands
// in the list, into parameters and nodes, as the built-in `dense` does; its options are
// declared as a schema and read by the config beside its key ({prelu: {}, alpha: 0.25}), so a
// custom op is usable without writing the explicit graph. Every layer also takes `name`
// (default: its kind, then kind_1, ... as Keras names layers) and `trainable`.
//
//   registrar.layers.add("prelu", {
//       .options = {real_option("alpha", 0.25, any_value(), "the initial slope")},
//       .expand = [](LayerBuilder& layer, const Attributes& options) {
//         const std::string alpha = layer.add_parameter(
//             "alpha", layer.input_shape(),
//             {.name = "constant", .value = options.get_real("alpha", 0.25)});
//         layer.add_node("", "prelu", {layer.input(), alpha});
//       }});

#include <functional>
#include <string>
#include <vector>

#include "engine/core/tensor_type.hpp"
#include "engine/graph/initializer.hpp"
#include "engine/graph/option_schema.hpp"

namespace loom {

// What a layer's expansion sees and adds. Names are the layer's: "" is the layer's own name
// (its last node usually takes it), "kernel" becomes "<layer>/kernel".
class LayerBuilder {
 public:
  virtual ~LayerBuilder() = default;
  virtual const std::string& input() const = 0;  // the value the layer reads
  virtual const Shape& input_shape() const = 0;  // one sample's
  // Each returns the full name of what it added, for the next node's inputs.
  virtual std::string add_parameter(const std::string& suffix, Shape shape,
                                    Initializer initializer) = 0;
  virtual std::string add_node(const std::string& suffix, const std::string& op,
                               std::vector<std::string> inputs, Attributes attributes = {}) = 0;
  // The shape of one sample of the layer's output (the last node's), when it is not the
  // input's; the expansion throws InputError for an input it cannot take.
  virtual void set_output_shape(Shape shape) = 0;
};

struct LayerDefinition {
  OptionSchema options;
  // The option a scalar written as the layer's own value sets ({my_dense: 64} for "units");
  // empty: the layer's value must be {} and its options stand beside it.
  std::string value_option;
  std::function<void(LayerBuilder& layer, const Attributes& options)> expand;
  std::string description;
};

// The config's own layer kinds (engine/config/layer_expander.cpp), which no plugin may take.
inline const std::vector<std::string> kBuiltinLayerKinds = {
    "activation", "avg_pool2d", "batch_norm",        "conv2d",     "dense",
    "dropout",    "flatten",    "global_avg_pool2d", "max_pool2d", "normalization"};

class LayerRegistry {
 public:
  static LayerRegistry& global();  // the plugins' layers (the built-in kinds are the config's)
  // A duplicate, a built-in kind's name or a definition without expand: InputError.
  void add(const std::string& name, LayerDefinition definition);
  const LayerDefinition* find(const std::string& name) const;  // null: unknown
  std::vector<std::string> names() const;                      // sorted

 private:
  std::vector<std::pair<std::string, LayerDefinition>> definitions_;
};

}  // namespace loom
