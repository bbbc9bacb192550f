#include "engine/config/onnx_model.hpp"

#include <algorithm>

#include "engine/core/error.hpp"
#include "engine/core/join_names.hpp"
#include "engine/onnx/onnx_import.hpp"

namespace loom {

namespace fs = std::filesystem;

namespace {

bool freezes(const std::string& entry, const std::string& parameter) {
  const bool prefix = entry.ends_with('.') || entry.ends_with('/');
  return prefix ? parameter.starts_with(entry) : parameter == entry;
}

// Marks the parameters `freeze:` names as not trainable; an entry naming none is refused
// (a typo would otherwise train what the user meant to keep).
void apply_freeze(ConfigNode& node, ModelSpec& model) {
  const auto freeze = node.find("freeze");
  if (!freeze) return;
  freeze->expect_sequence();
  for (size_t i = 0; i < freeze->size(); ++i) {
    const ConfigNode entry = (*freeze)[i];
    const std::string name = entry.as_string();
    bool matched = false;
    for (ParameterSpec& parameter : model.parameters) {
      if (!freezes(name, parameter.name)) continue;
      parameter.trainable = false;
      matched = true;
    }
    if (!matched) {
      constexpr size_t kListed = 20;  // a message line, not a dump of a large model
      std::vector<std::string> names;
      for (const ParameterSpec& parameter : model.parameters) {
        if (names.size() == kListed) {
          names.push_back("...");
          break;
        }
        names.push_back(parameter.name);
      }
      entry.fail("no weight of the model is named '" + name +
                 "' (a prefix ends in '.' or '/'); the weights: " + join_names(names));
    }
    model.frozen.push_back(name);
  }
}

}  // namespace

bool is_onnx_model(const ConfigNode& node) {
  return static_cast<bool>(node.yaml()["onnx"]);
}

void read_onnx_model(ConfigNode& node, ModelSpec& model, const fs::path& base) {
  const ConfigNode file_node = node.at("onnx");
  fs::path file = file_node.as_string();
  if (file.is_relative()) file = base / file;
  ImportedModel imported;
  try {
    imported = import_onnx(file);
  } catch (const InputError& error) {
    file_node.fail(error.what());
  }
  if (imported.inputs.size() != 1 || imported.outputs.size() != 1) {
    file_node.fail(file.string() + ": the model has " + std::to_string(imported.inputs.size()) +
                   " inputs and " + std::to_string(imported.outputs.size()) +
                   " outputs; the engine trains models of one input and one output");
  }
  const ImportedInput& input = imported.inputs[0];
  model.onnx_file = fs::absolute(file).lexically_normal();
  model.input = {input.name, Shape(input.shape.begin() + 1, input.shape.end()), file_node.where()};
  for (const ImportedParameter& parameter : imported.parameters) {
    model.parameters.push_back({.name = parameter.name,
                                .shape = parameter.shape,
                                .initializer = Initializer::given(parameter.values),
                                .trainable = parameter.trainable,
                                .where = file.string() + ": weight '" + parameter.name + "'"});
  }
  for (ImportedNode& imported_node : imported.nodes) {
    const std::string where = file.string() + ": node '" + imported_node.name + "'";
    model.nodes.push_back({std::move(imported_node.name), std::move(imported_node.op),
                           std::move(imported_node.inputs), std::move(imported_node.attributes),
                           where});
  }
  model.output = imported.outputs[0];
  model.output_where = file_node.where();
  apply_freeze(node, model);
}

}  // namespace loom
