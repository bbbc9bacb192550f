#pragma once
// Reads `trainer.callbacks`: early_stopping, reduce_lr_on_plateau and checkpoint, each
// against its schema, with their monitors checked against what the run reports.

#include <string>
#include <vector>

#include "engine/config/config_node.hpp"
#include "engine/config/experiment.hpp"

namespace loom {

struct CallbackDefinition {
  std::string name;
  OptionSchema options;
  std::string doc;
};

const std::vector<CallbackDefinition>& callback_definitions();  // sorted by name

// What a monitor watches when none is written: val_loss, else test_loss, else loss.
std::string default_monitor(const DataSpec& data);

// Reads the callbacks into `spec`, whose optimizer and metrics are read already.
void read_callbacks(ConfigNode node, TrainerSpec& spec, const DataSpec& data);

// A `monitor` option (of a plateau schedule or callback) must name a metric the engine can
// report; the metric registry is the config's to read, out of the optimizers' sight.
std::optional<OptionProblem> unknown_monitor(const Attributes& options);

}  // namespace loom
