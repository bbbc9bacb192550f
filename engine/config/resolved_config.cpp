#include "engine/config/resolved_config.hpp"

#include <variant>

#include "engine/config/read_data.hpp"

namespace loom {

namespace {

// The config's word for a normalization statistic (read back by load_experiment's read_adapt).
const char* adapt_name(ParameterSpec::Adapt adapt) {
  switch (adapt) {
    case ParameterSpec::Adapt::mean:
      return "mean";
    case ParameterSpec::Adapt::variance:
      return "variance";
    case ParameterSpec::Adapt::inverse_std:
      return "inverse_std";
    case ParameterSpec::Adapt::none:
      break;
  }
  return "none";
}

YAML::Node flow_list(YAML::Node list) {
  list.SetStyle(YAML::EmitterStyle::Flow);
  return list;
}

struct OptionWriter {
  YAML::Node operator()(double v) const { return YAML::Node(shortest_text(v)); }
  YAML::Node operator()(const std::vector<double>& v) const {
    YAML::Node list(YAML::NodeType::Sequence);
    for (double element : v) list.push_back(shortest_text(element));
    return flow_list(list);
  }
  YAML::Node operator()(const std::vector<int64_t>& v) const { return flow_list(YAML::Node(v)); }
  YAML::Node operator()(bool v) const { return YAML::Node(v); }
  YAML::Node operator()(int64_t v) const { return YAML::Node(v); }
  YAML::Node operator()(const std::string& v) const { return YAML::Node(v); }
};

// Every option the schema declares that has a value, in the schema's order (an option that
// is off has none and is left out).
YAML::Node options_yaml(std::span<const AttributeSpec> schema, const Attributes& values) {
  YAML::Node node(YAML::NodeType::Map);
  for (const AttributeSpec& spec : schema) {
    if (const auto found = values.all().find(spec.name); found != values.all().end()) {
      node[spec.name] = std::visit(OptionWriter{}, found->second);
    }
  }
  return node;
}

YAML::Node learning_rate_yaml(const LearningRateSpec& spec) {
  if (!spec.schedule) return YAML::Node(shortest_text(spec.constant));
  YAML::Node node;
  node[spec.schedule->name] =
      options_yaml(find_schedule(spec.schedule->name)->options, spec.schedule->options);
  return node;
}

YAML::Node optimizer_yaml(const OptimizerSpec& spec) {
  const OptimizerDefinition& definition = *OptimizerRegistry::global().find(spec.name);
  YAML::Node options(YAML::NodeType::Map);
  options["learning_rate"] = learning_rate_yaml(
      spec.learning_rate.value_or(LearningRateSpec{.constant = definition.default_learning_rate}));
  for (const auto& entry :
       options_yaml(without(definition.schema(), {"learning_rate"}), spec.options)) {
    options[entry.first] = entry.second;
  }
  YAML::Node node;
  node[spec.name] = options;
  return node;
}

YAML::Node metric_yaml(const MetricSpec& spec) {
  if (spec.options.all().empty()) return YAML::Node(spec.name);
  YAML::Node node;
  node[spec.name] = options_yaml(find_metric(spec.name)->options, spec.options);
  return node;
}

// An attribute map's entries as keys of `node`.
void write_attributes(YAML::Node node, const Attributes& attributes) {
  for (const auto& [key, value] : attributes.all()) {
    // Captured by name: structured bindings are capturable only from clang 16 on.
    std::visit([&, &name = key](const auto& v) { node[name] = v; }, value);
  }
}

// The model in its explicit form: what `layers:` expanded to.
YAML::Node model_yaml(const ModelSpec& model) {
  YAML::Node node;
  // An imported model's weights are the file's: the resolved config names the file again.
  if (!model.onnx_file.empty()) {
    node["onnx"] = model.onnx_file.string();
    if (!model.frozen.empty()) node["freeze"] = model.frozen;
    return node;
  }
  node["inputs"][model.input.name] = model.input.shape;
  for (const ParameterSpec& parameter : model.parameters) {
    YAML::Node entry;
    entry["shape"] = parameter.shape;
    entry["init"] = parameter.initializer.name;
    if (parameter.initializer.name == "constant") entry["value"] = parameter.initializer.value;
    entry["trainable"] = parameter.trainable;
    if (parameter.l2 > 0.0) entry["regularizer"]["l2"] = parameter.l2;
    if (parameter.adapt != ParameterSpec::Adapt::none) {
      entry["adapt"] = adapt_name(parameter.adapt);
      entry["adapt_axis"] = parameter.adapt_axis;
    }
    node["params"][parameter.name] = entry;
  }
  for (const NodeSpec& spec : model.nodes) {
    YAML::Node entry;
    entry["name"] = spec.name;
    entry["op"] = spec.op;
    entry["inputs"] = spec.inputs;
    write_attributes(entry, spec.attributes);
    node["nodes"].push_back(entry);
  }
  node["outputs"].push_back(model.output);
  return node;
}

YAML::Node loss_yaml(const LossSpec& loss) {
  if (loss.attributes.all().empty()) return YAML::Node(loss.name);
  YAML::Node node;
  write_attributes(node[loss.name], loss.attributes);
  return node;
}

void write_monitor(YAML::Node node, const MonitorSpec& spec) {
  node["monitor"] = spec.metric;
  node["mode"] = spec.mode;
}

YAML::Node callbacks_yaml(const TrainerSpec& trainer) {
  YAML::Node node;
  if (const auto& stopping = trainer.early_stopping) {
    YAML::Node entry = node["early_stopping"];
    write_monitor(entry, stopping->monitor);
    entry["patience"] = stopping->patience;
    entry["min_delta"] = stopping->min_delta;
    entry["restore_best_weights"] = stopping->restore_best_weights;
  }
  if (const auto& reduce = trainer.reduce_lr_on_plateau) {
    node["reduce_lr_on_plateau"] = options_yaml(reduce_lr_on_plateau_options(), reduce->options);
  }
  YAML::Node checkpoint = node["checkpoint"];
  checkpoint["every_steps"] = trainer.checkpoint.every_steps;
  write_monitor(checkpoint, trainer.checkpoint.monitor);
  return node;
}

YAML::Node trainer_yaml(const TrainerSpec& spec) {
  YAML::Node trainer;
  trainer["optimizer"] = optimizer_yaml(spec.optimizer);
  trainer["loss"] = loss_yaml(spec.loss);
  trainer["metrics"] = YAML::Node(YAML::NodeType::Sequence);
  for (const MetricSpec& metric : spec.metrics) trainer["metrics"].push_back(metric_yaml(metric));
  trainer["batch_size"] = spec.batch_size;
  trainer["epochs"] = spec.epochs;
  trainer["shuffle"] = spec.shuffle;
  trainer["on_nonfinite"] = spec.on_nonfinite == TrainerSpec::OnNonFinite::skip ? "skip" : "stop";
  trainer["check_numerics"] = spec.check_numerics;
  trainer["flush_denormals"] = spec.flush_denormals;
  trainer["callbacks"] = callbacks_yaml(spec);
  return trainer;
}

}  // namespace

YAML::Node resolved_config(const Experiment& experiment) {
  YAML::Node root;
  root["name"] = experiment.name;
  for (const auto& plugin : experiment.plugins) root["plugins"].push_back(plugin.string());
  root["seed"] = experiment.seed;
  root["data"] = data_yaml(experiment.data);
  root["model"] = model_yaml(experiment.model);
  root["trainer"] = trainer_yaml(experiment.trainer);
  return root;
}

}  // namespace loom
