#include "engine/train/model_summary.hpp"

#include <cstdio>
#include <set>

#include "engine/core/memory.hpp"
#include "engine/exec/plan.hpp"
#include "engine/optim/optimizer.hpp"

namespace loom {

namespace {

// The layer a node belongs to: the part of its name before the first '/'.
std::string layer_of(const std::string& node) {
  return node.substr(0, node.find('/'));
}

// Keras's shape notation: "(None, 28, 28, 32)".
std::string keras_shape(const Shape& sample) {
  std::string text = "(None";
  for (const int64_t extent : sample) text += ", " + std::to_string(extent);
  return text + ")";
}

// 407050 -> "407,050".
std::string grouped(int64_t count) {
  std::string digits = std::to_string(count), text;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return text;
}

// One row per layer, in the order the nodes run; each parameter counted at its first user.
std::vector<SummaryRow> layer_rows(const ModelSpec& model, const Graph& graph) {
  std::vector<SummaryRow> rows;
  std::set<std::string> counted;
  for (const NodeSpec& node : model.nodes) {
    const std::string layer = layer_of(node.name);
    if (rows.empty() || rows.back().name != layer) rows.push_back({.name = layer});
    SummaryRow& row = rows.back();
    row.ops += (row.ops.empty() ? "" : ", ") + node.op;
    const Shape& output = graph.value(graph.value_named(node.name)).type.shape;
    row.output = Shape(output.begin() + 1, output.end());
    for (const std::string& input : node.inputs) {
      const Value& value = graph.value(graph.value_named(input));
      if (value.role == ValueRole::parameter && counted.insert(input).second) {
        row.parameters += numel(value.type.shape);
      }
    }
  }
  return rows;
}

}  // namespace

ModelSummary summarize(Session& session) {
  const Experiment& experiment = session.experiment();
  const int64_t batch = experiment.trainer.batch_size;
  const Graph& training = session.graph(Purpose::training, batch);
  ModelSummary summary{.name = experiment.name,
                       .input = experiment.model.input.shape,
                       .rows = layer_rows(experiment.model, session.graph(Purpose::inference, 1)),
                       .batch = batch};
  const auto slots =
      int64_t(OptimizerRegistry::global().create(experiment.trainer.optimizer)->slot_count());
  int64_t slot_bytes = 0;
  for (const Value& value : training.values()) {
    if (value.role != ValueRole::parameter) continue;
    (value.trainable ? summary.trainable : summary.non_trainable) += numel(value.type.shape);
    summary.parameter_bytes += value.type.bytes();
    if (value.trainable) slot_bytes += slots * value.type.bytes();
  }
  summary.training_bytes = summary.parameter_bytes + slot_bytes + planned_bytes(training);
  summary.inference_bytes =
      summary.parameter_bytes + planned_bytes(session.graph(Purpose::inference, batch));
  summary.single_sample_bytes =
      summary.parameter_bytes + planned_bytes(session.graph(Purpose::inference, 1));
  return summary;
}

std::string summary_text(const ModelSummary& summary) {
  std::string text = "Model: \"" + summary.name + "\"\n";
  char line[512];
  const auto rule = std::string(84, '-') + "\n";
  const auto add_row = [&](const std::string& layer, const std::string& shape,
                           const std::string& parameters) {
    // A layer whose ops do not fit its column gets them on a line of their own.
    if (layer.size() > 40) {
      text += layer + "\n";
      std::snprintf(line, sizeof line, "%-40s %-28s %14s\n", "", shape.c_str(), parameters.c_str());
    } else {
      std::snprintf(line, sizeof line, "%-40s %-28s %14s\n", layer.c_str(), shape.c_str(),
                    parameters.c_str());
    }
    text += line;
  };
  text += rule;
  add_row("Layer (ops)", "Output Shape", "Param #");
  text += rule;
  add_row("input", keras_shape(summary.input), "0");
  for (const SummaryRow& row : summary.rows) {
    add_row(row.name + " (" + row.ops + ")", keras_shape(row.output), grouped(row.parameters));
  }
  text += rule;
  const int64_t total = summary.trainable + summary.non_trainable;
  text += "Total params: " + grouped(total) + " (" + format_bytes(summary.parameter_bytes) + ")\n";
  text += "Trainable params: " + grouped(summary.trainable) + "\n";
  text += "Non-trainable params: " + grouped(summary.non_trainable) + "\n";
  text += "Memory at batch " + std::to_string(summary.batch) + ": training " +
          format_bytes(summary.training_bytes) +
          " (weights, optimizer slots, activations and gradients), inference " +
          format_bytes(summary.inference_bytes) +
          "; one sample: " + format_bytes(summary.single_sample_bytes) + "\n";
  return text;
}

}  // namespace loom
