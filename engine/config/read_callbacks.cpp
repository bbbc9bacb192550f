#include "engine/config/read_callbacks.hpp"

#include <cmath>

#include "engine/config/read_options.hpp"
#include "engine/config/read_values.hpp"
#include "engine/core/error.hpp"
#include "engine/core/named_table.hpp"

namespace loom {

namespace {

// A monitor's default depends on the data (val_loss, else test_loss, else loss), so the
// schema leaves it unset and read_monitor fills it in.
AttributeSpec monitor_option() {
  return {.name = "monitor",
          .kind = AttributeKind::text,
          .help = "the metric watched (default: val_loss, else test_loss, else loss)"};
}

AttributeSpec mode_option() {
  return text_option("mode", "auto", {"auto", "max", "min"},
                     "auto: accuracies rise and losses fall");
}

const OptionSchema& callback_options(const std::string& name) {
  if (const CallbackDefinition* definition = find_named(callback_definitions(), name)) {
    return definition->options;
  }
  throw RuntimeError("no callback '" + name + "'");
}

// A metric to watch: one that the run reports (loss, a configured metric, or either of them
// on the validation or test data).
MonitorSpec read_monitor(ConfigNode& node, const Attributes& options,
                         const std::vector<MetricSpec>& metrics, const DataSpec& data) {
  MonitorSpec monitor;
  monitor.metric = options.has("monitor") ? options.text("monitor") : default_monitor(data);
  monitor.where = node.has("monitor") ? node.at("monitor").where() : node.where();
  monitor.mode = options.text("mode");
  std::vector<std::string> reported;
  const bool validation = data.validation || data.validation_split > 0;
  for (const std::string& prefix : {std::string(), std::string("val_"), std::string("test_")}) {
    if (prefix == "val_" && !validation) continue;
    if (prefix == "test_" && !data.test) continue;
    reported.push_back(prefix + "loss");
    for (const MetricSpec& metric : metrics) reported.push_back(prefix + metric.name);
  }
  if (!contains(reported, monitor.metric)) {
    throw InputError(monitor.where + ": '" + monitor.metric +
                     "' is not reported by this run (reported: " + join_names(reported) + ")");
  }
  return monitor;
}

EarlyStoppingSpec read_early_stopping(ConfigNode node, const TrainerSpec& spec,
                                      const DataSpec& data) {
  node.expect_map();
  const Attributes options =
      read_options(node, callback_options("early_stopping"), "for early_stopping");
  return {.monitor = read_monitor(node, options, spec.metrics, data),
          .patience = options.integer("patience"),
          .min_delta = std::abs(options.real("min_delta")),
          .restore_best_weights = options.boolean("restore_best_weights")};
}

ReduceLrOnPlateauSpec read_reduce_lr_on_plateau(ConfigNode node, const TrainerSpec& spec) {
  node.expect_map();
  const OptionCheck check = both(find_schedule("reduce_on_plateau")->check, unknown_monitor);
  ReduceLrOnPlateauSpec reduce{
      .options = read_options(node, reduce_lr_on_plateau_options(),
                              "for reduce_lr_on_plateau (the learning rate comes from the "
                              "optimizer)",
                              check),
      .where = node.where()};
  if (spec.optimizer.learning_rate && !spec.optimizer.learning_rate->is_constant()) {
    node.fail(
        "reduce_lr_on_plateau needs a constant learning_rate "
        "(the optimizer has a schedule; use the reduce_on_plateau schedule instead)");
  }
  return reduce;
}

CheckpointSpec read_checkpoint(ConfigNode node, const TrainerSpec& spec, const DataSpec& data) {
  node.expect_map();
  const Attributes options = read_options(node, callback_options("checkpoint"), "for checkpoint");
  return {.every_steps = options.integer("every_steps"),
          .monitor = read_monitor(node, options, spec.metrics, data)};
}

}  // namespace

std::string default_monitor(const DataSpec& data) {
  if (data.validation || data.validation_split > 0) return "val_loss";
  return data.test ? "test_loss" : "loss";
}

const std::vector<CallbackDefinition>& callback_definitions() {
  static const std::vector<CallbackDefinition> table = {
      {"checkpoint",
       {integer_option("every_steps", 0, at_least(0),
                       "also save `last` every this many steps (0: after each epoch only)"),
        monitor_option(), mode_option()},
       "`last` after every epoch, `best` when the monitor improves"},
      {"early_stopping",
       {monitor_option(), mode_option(),
        integer_option("patience", 0, at_least(0), "epochs without improvement before stopping"),
        real_option("min_delta", 0.0, any_value(), "the least change that counts (its size)"),
        boolean_option("restore_best_weights", false, "hand back the best epoch's weights")},
       "Keras's EarlyStopping"},
      {"reduce_lr_on_plateau", reduce_lr_on_plateau_options(),
       "Keras's ReduceLROnPlateau, from the optimizer's constant learning rate"},
  };
  return table;
}

std::optional<OptionProblem> unknown_monitor(const Attributes& options) {
  if (!options.has("monitor")) return std::nullopt;
  const std::string& monitor = options.text("monitor");
  if (contains(monitorable_metrics(), monitor)) return std::nullopt;
  // top_k_accuracy reports under its k: top_3_accuracy, val_top_3_accuracy, ...
  for (const char* prefix : {"", "val_", "test_"}) {
    if (monitor.starts_with(prefix) && top_k_of(monitor.substr(std::string(prefix).size()))) {
      return std::nullopt;
    }
  }
  return OptionProblem{
      "monitor", std::nullopt,
      "unknown metric '" + monitor + "' (known: " + join_names(monitorable_metrics()) + ")"};
}

void read_callbacks(ConfigNode node, TrainerSpec& spec, const DataSpec& data) {
  node.expect_map();
  if (auto early = node.find("early_stopping")) {
    spec.early_stopping = read_early_stopping(*early, spec, data);
  }
  if (auto reduce = node.find("reduce_lr_on_plateau")) {
    spec.reduce_lr_on_plateau = read_reduce_lr_on_plateau(*reduce, spec);
  }
  if (auto checkpoint = node.find("checkpoint")) {
    spec.checkpoint = read_checkpoint(*checkpoint, spec, data);
  }
  node.finish("for callbacks");
}

}  // namespace loom
