#include "engine/train/onnx_export.hpp"

#include <nlohmann/json.hpp>

#include "engine/config/build_graph.hpp"
#include "engine/core/error.hpp"
#include "engine/graph/attributes.hpp"
#include "engine/onnx/onnx_import.hpp"
#include "engine/train/history.hpp"
#include "engine/train/model_file.hpp"
#include "engine/train/session.hpp"

namespace loom {

namespace fs = std::filesystem;

namespace {

// The inference graph in the form the exporter takes, with the session's weights.
ImportedModel graph_form(const Experiment& experiment, Session& session, double scale) {
  const ModelSpec& model = experiment.model;
  ImportedModel graph;
  Shape input_shape = {1};
  input_shape.insert(input_shape.end(), model.input.shape.begin(), model.input.shape.end());
  graph.inputs.push_back({model.input.name, input_shape});
  for (const ParameterSpec& parameter : model.parameters) {
    const auto values = session.parameters().at(parameter.name);
    graph.parameters.push_back(
        {parameter.name, parameter.shape,
         std::make_shared<const std::vector<float>>(values.begin(), values.end()), false});
  }
  // Raw inputs are multiplied by the training set's scale first, as evaluate and predict do.
  std::string input = model.input.name;
  if (scale != 1.0) {
    std::string name = "input_scale";
    while (std::ranges::any_of(model.nodes, [&](const NodeSpec& n) { return n.name == name; }) ||
           std::ranges::any_of(model.parameters,
                               [&](const ParameterSpec& p) { return p.name == name; })) {
      name += "_";
    }
    graph.nodes.push_back({name, "scale", {model.input.name}, {{"factor", scale}}});
    input = name;
  }
  for (const NodeSpec& node : model.nodes) {
    ImportedNode written{node.name, node.op, node.inputs, node.attributes};
    for (std::string& name : written.inputs) {
      if (name == model.input.name) name = input;
    }
    graph.nodes.push_back(std::move(written));
  }
  graph.outputs.push_back(model.output);
  const Graph built = build_evaluation_graph(experiment, 1);
  graph.output_shapes.push_back(built.value(built.value_named(model.output)).type.shape);
  return graph;
}

}  // namespace

Experiment export_onnx_model(const fs::path& run_directory, const fs::path& checkpoint,
                             const fs::path& output) {
  Experiment experiment = load_experiment(run_directory / "config.yaml", {}, DataUse::model);
  const SafetensorsFile weights = SafetensorsFile::read(checkpoint);
  Session session(experiment);
  session.load_weights(checkpoint);  // every parameter, its shape, finite
  const double scale = trained_scale(weights, experiment);
  const std::map<std::string, std::string> metadata = {
      {"loom.engine_version", LOOM_VERSION},
      {"loom.experiment", experiment.name},
      {"loom.input_scale", shortest_text(scale) + " (applied by the graph's first node)"},
      {"loom.class_names", nlohmann::json(session.class_names()).dump()},
      {"loom.loss", experiment.trainer.loss.name},
  };
  write_file_atomically(output, export_onnx(graph_form(experiment, session, scale), metadata));
  return experiment;
}

}  // namespace loom
