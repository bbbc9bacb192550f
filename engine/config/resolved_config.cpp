#include "engine/config/resolved_config.hpp"

#include <variant>

namespace loom {

YAML::Node resolved_config(const Experiment& experiment) {
  YAML::Node root;
  root["name"] = experiment.name;
  for (const auto& plugin : experiment.plugins) root["plugins"].push_back(plugin.string());
  root["seed"] = experiment.seed;

  auto dataset = [](const DatasetSpec& spec) {
    YAML::Node node;
    node["format"] = spec.format;
    node["images"] = spec.images.string();
    node["labels"] = spec.labels.string();
    node["limit"] = spec.limit;
    return node;
  };
  root["data"]["train"] = dataset(experiment.data.train);
  if (experiment.data.validation) root["data"]["validation"] = dataset(*experiment.data.validation);
  if (experiment.data.validation_split > 0) {
    root["data"]["validation_split"] = experiment.data.validation_split;
  }
  if (experiment.data.test) root["data"]["test"] = dataset(*experiment.data.test);
  root["data"]["scale"] = experiment.data.scale;

  // The model in its explicit form: what `layers:` expanded to.
  YAML::Node model;
  model["inputs"][experiment.model.input.name] = experiment.model.input.shape;
  for (const ParameterSpec& parameter : experiment.model.parameters) {
    YAML::Node node;
    node["shape"] = parameter.shape;
    node["init"] = parameter.initializer.name;
    if (parameter.initializer.name == "constant") node["value"] = parameter.initializer.value;
    node["trainable"] = parameter.trainable;
    if (parameter.l2 > 0.0) node["regularizer"]["l2"] = parameter.l2;
    model["params"][parameter.name] = node;
  }
  for (const NodeSpec& spec : experiment.model.nodes) {
    YAML::Node node;
    node["name"] = spec.name;
    node["op"] = spec.op;
    node["inputs"] = spec.inputs;
    for (const auto& [key, value] : spec.attributes.all()) {
      // Captured by name: structured bindings are capturable only from clang 16 on.
      std::visit([&, &name = key](const auto& v) { node[name] = v; }, value);
    }
    model["nodes"].push_back(node);
  }
  model["outputs"].push_back(experiment.model.output);
  root["model"] = model;

  YAML::Node trainer;
  YAML::Node options = experiment.trainer.optimizer.options.yaml();
  trainer["optimizer"][experiment.trainer.optimizer.name] =
      options.IsDefined() && !options.IsNull() ? options : YAML::Node(YAML::NodeType::Map);
  if (experiment.trainer.loss.attributes.all().empty()) {
    trainer["loss"] = experiment.trainer.loss.name;
  } else {
    for (const auto& [key, value] : experiment.trainer.loss.attributes.all()) {
      std::visit([&, &name = key](
                     const auto& v) { trainer["loss"][experiment.trainer.loss.name][name] = v; },
                 value);
    }
  }
  trainer["metrics"] = YAML::Node(YAML::NodeType::Sequence);
  for (const MetricSpec& metric : experiment.trainer.metrics) {
    if (metric.name == "top_k_accuracy") {
      YAML::Node node;
      node[metric.name]["k"] = metric.k;
      trainer["metrics"].push_back(node);
    } else {
      trainer["metrics"].push_back(metric.name);
    }
  }
  trainer["batch_size"] = experiment.trainer.batch_size;
  trainer["epochs"] = experiment.trainer.epochs;
  trainer["shuffle"] = experiment.trainer.shuffle;
  trainer["on_nonfinite"] =
      experiment.trainer.on_nonfinite == TrainerSpec::OnNonFinite::skip ? "skip" : "stop";
  trainer["check_numerics"] = experiment.trainer.check_numerics;
  const auto monitor = [](YAML::Node node, const MonitorSpec& spec) {
    node["monitor"] = spec.metric;
    node["mode"] = spec.mode;
  };
  if (const auto& stopping = experiment.trainer.early_stopping) {
    YAML::Node node = trainer["callbacks"]["early_stopping"];
    monitor(node, stopping->monitor);
    node["patience"] = stopping->patience;
    node["min_delta"] = stopping->min_delta;
    node["restore_best_weights"] = stopping->restore_best_weights;
  }
  if (const auto& reduce = experiment.trainer.reduce_lr_on_plateau) {
    trainer["callbacks"]["reduce_lr_on_plateau"] = reduce->yaml();
  }
  YAML::Node checkpoint = trainer["callbacks"]["checkpoint"];
  checkpoint["every_steps"] = experiment.trainer.checkpoint.every_steps;
  monitor(checkpoint, experiment.trainer.checkpoint.monitor);
  root["trainer"] = trainer;
  return root;
}

}  // namespace loom
