#pragma once
// The `layers:` sugar: Keras's Sequential layers expanded into the explicit graph's
// parameters and nodes, named as Keras names them (dense, dense_1, ...).

#include <cstdint>

#include "engine/config/config_node.hpp"
#include "engine/config/experiment.hpp"

namespace loom {

// Reads model.input and model.layers into `model` (input, parameters, nodes, output).
void read_layers_model(ConfigNode& node, ModelSpec& model, uint64_t seed);

}  // namespace loom
