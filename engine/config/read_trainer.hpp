#pragma once
// Reads the `trainer:` section: the optimizer and its learning rate, the loss, the metrics,
// the loop's settings and the callbacks, each against its schema (typed values out).

#include <string>

#include "engine/config/config_node.hpp"
#include "engine/config/experiment.hpp"

namespace loom {

TrainerSpec read_trainer(ConfigNode node, const DataSpec& data);

// `optimizer:` (a name, or {name: {options}}) with every option resolved.
OptimizerSpec read_optimizer(ConfigNode node);
// One optimizer's options map (null: all defaults).
OptimizerSpec read_optimizer_options(const std::string& name, ConfigNode options);
// `learning_rate:` (null: the constant `fallback`).
LearningRateSpec read_learning_rate(ConfigNode node, double fallback);

}  // namespace loom
