#pragma once
// `model: {onnx: FILE}`: the model is an ONNX file's graph (engine/onnx/), trained,
// evaluated and exported like a model written in YAML. `freeze:` lists the file's weights
// that stay fixed: names, or prefixes ending in '.' or '/' (PyTorch's module paths,
// "features." freezes every weight under features).

#include <filesystem>

#include "engine/config/config_node.hpp"
#include "engine/config/experiment.hpp"

namespace loom {

// Whether the model section names an ONNX file.
bool is_onnx_model(const ConfigNode& node);

// Imports the file (relative paths from `base`, the config's directory) into `model`.
void read_onnx_model(ConfigNode& node, ModelSpec& model, const std::filesystem::path& base);

}  // namespace loom
