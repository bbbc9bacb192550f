#include "engine/config/plugin_layer.hpp"

#include <algorithm>

#include "engine/config/read_options.hpp"
#include "engine/core/error.hpp"

namespace loom {

namespace {

// A plugin layer's view of the expansion: its names under the layer's, its nodes reading what
// the layer reads, each with the layer's config position.
class CursorBuilder final : public LayerBuilder {
 public:
  CursorBuilder(LayerCursor cursor, std::string name, std::string where)
      : cursor_(cursor), name_(std::move(name)), where_(std::move(where)), input_(cursor.current) {}

  const std::string& input() const override { return input_; }
  const Shape& input_shape() const override { return cursor_.features; }
  std::string add_parameter(const std::string& suffix, Shape shape,
                            Initializer initializer) override {
    numel(shape);  // a size that wraps: an error at the layer
    cursor_.model.parameters.push_back({.name = full_name(suffix),
                                        .shape = std::move(shape),
                                        .initializer = std::move(initializer),
                                        .where = where_});
    return cursor_.model.parameters.back().name;
  }
  std::string add_node(const std::string& suffix, const std::string& op,
                       std::vector<std::string> inputs, Attributes attributes) override {
    cursor_.model.nodes.push_back({.name = full_name(suffix),
                                   .op = op,
                                   .inputs = std::move(inputs),
                                   .attributes = std::move(attributes),
                                   .where = where_});
    cursor_.current = cursor_.model.nodes.back().name;
    return cursor_.current;
  }
  void set_output_shape(Shape shape) override {
    numel(shape);
    cursor_.features = std::move(shape);
  }

 private:
  std::string full_name(const std::string& suffix) const {
    return suffix.empty() ? name_ : name_ + "/" + suffix;
  }
  LayerCursor cursor_;
  std::string name_, where_, input_;
};

}  // namespace

const LayerDefinition* find_plugin_layer(const ConfigNode& layer, std::string& kind) {
  for (const std::string& name : LayerRegistry::global().names()) {
    if (layer.yaml()[name]) {
      kind = name;
      return LayerRegistry::global().find(name);
    }
  }
  return nullptr;
}

void expand_plugin_layer(ConfigNode& layer, const std::string& kind, const std::string& name,
                         const LayerDefinition& definition, LayerCursor cursor) {
  ConfigNode value = layer.at(kind);
  Attributes options;
  const bool written = !value.is_null() && !(value.is_map() && value.size() == 0);
  if (written && definition.value_option.empty()) {
    value.fail(kind + " takes its options beside it: write {" + kind + ": {}, ...}");
  }
  if (written) {
    const auto spec =
        std::ranges::find(definition.options, definition.value_option, &AttributeSpec::name);
    if (spec == definition.options.end()) {
      throw InputError("layer '" + kind + "' declares its value as option '" +
                       definition.value_option + "', which it does not have");
    }
    if (layer.has(definition.value_option)) {
      layer.at(definition.value_option)
          .fail("'" + definition.value_option + "' is given twice: as the layer's value and here");
    }
    options.set(spec->name, read_option(value, *spec));
    read_declared_options(layer, without(definition.options, {definition.value_option}), options);
  } else {
    read_declared_options(layer, definition.options, options);
  }
  CursorBuilder builder(cursor, name, layer.where());
  try {
    definition.expand(builder, options);
  } catch (const InputError& error) {
    layer.fail(kind + ": " + error.what());
  }
  // A plugin that throws anything else is a defect of the plugin, reported as such by main.
}

}  // namespace loom
