#pragma once
// A plugin's layer (engine/plugin/layer.hpp) in the `layers:` form: its options read from the
// layer's map against its schema, then its expansion run on a builder, with any error it
// raises reported at the layer's config position.

#include <string>

#include "engine/config/config_node.hpp"
#include "engine/config/experiment.hpp"
#include "engine/plugin/layer.hpp"

namespace loom {

// The registered layer whose kind key `layer` has; null when it has none.
const LayerDefinition* find_plugin_layer(const ConfigNode& layer, std::string& kind);

// Where the `layers:` expansion stands: the model being written, the value the next layer
// reads, and the shape of one sample of it.
struct LayerCursor {
  ModelSpec& model;
  std::string& current;
  Shape& features;
};

// Reads the options and expands layer `name` at `cursor`, which it advances; the caller
// finishes the map.
void expand_plugin_layer(ConfigNode& layer, const std::string& kind, const std::string& name,
                         const LayerDefinition& definition, LayerCursor cursor);

}  // namespace loom
