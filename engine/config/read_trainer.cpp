#include "engine/config/read_trainer.hpp"

#include "engine/config/read_callbacks.hpp"
#include "engine/config/read_options.hpp"
#include "engine/config/read_values.hpp"
#include "engine/core/error.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

// A name, or {name: {options}}: the name, where it is written, and the options (a null node
// when there are none).
struct NamedOptions {
  std::string name;
  std::string where;
  ConfigNode options;
};

// `aliases` are accepted too, but not listed as known.
NamedOptions name_and_options(ConfigNode node, const std::vector<std::string>& known,
                              const std::string& what,
                              const std::vector<std::string>& aliases = {}) {
  NamedOptions named;
  if (node.is_scalar()) {
    named = {node.as_string(), node.where(), node.with(YAML::Node(), node.path())};
  } else {
    node.expect_map();
    auto entries = node.entries();
    if (entries.size() != 1) node.fail("expected a " + what + " name, or {name: {options}}");
    named = {entries[0].first, node.where_key(entries[0].first), entries[0].second};
  }
  if (!contains(known, named.name) && !contains(aliases, named.name)) {
    throw InputError(named.where + ": unknown " + what + " '" + named.name +
                     "' (known: " + join_names(known) + ")");
  }
  if (!named.options.is_null()) named.options.expect_map();
  return named;
}

// What the loss's targets must be, by Keras's conventions (engine/data/targets.hpp); a
// plugin's loss takes target values as regression losses do.
TargetFamily target_family(const std::string& loss) {
  if (loss == "sparse_categorical_crossentropy") return TargetFamily::class_index;
  if (loss == "categorical_crossentropy") return TargetFamily::categorical;
  if (loss == "binary_crossentropy") return TargetFamily::binary;
  return TargetFamily::regression;
}

// A loss is a name or {name: {options}}; the options are the loss op's attributes. Keras's
// aliases name the same op.
LossSpec read_loss(ConfigNode node) {
  NamedOptions named = name_and_options(node, known_losses(), "loss", loss_aliases());
  LossSpec spec{.name = loss_op(named.name), .where = named.where};
  spec.targets = target_family(spec.name);
  if (!named.options.is_null()) {
    spec.where = named.options.where();
    spec.attributes =
        read_options(named.options, OpRegistry::global().get(spec.name).signature().attributes,
                     "for loss '" + named.name + "'");
  }
  spec.from_logits = spec.attributes.get_bool("from_logits", false);
  return spec;
}

// A metric is a name or {name: {options}}; Keras's "top_3_accuracy" is top_k_accuracy, k 3.
MetricSpec read_metric(ConfigNode node) {
  if (node.is_scalar()) {
    if (const std::optional<int64_t> k = top_k_of(node.as_string())) {
      Attributes options;
      options.set("k", *k);
      return {.name = "top_k_accuracy", .options = options};
    }
  }
  NamedOptions named = name_and_options(node, known_metrics(), "metric");
  return {.name = named.name,
          .options = read_options(named.options, find_metric(named.name)->options,
                                  "for metric '" + named.name + "'")};
}

std::vector<MetricSpec> read_metrics(ConfigNode metrics) {
  metrics.expect_sequence();
  std::vector<MetricSpec> specs;
  for (size_t i = 0; i < metrics.size(); ++i) {
    MetricSpec metric = read_metric(metrics[i]);
    for (const MetricSpec& earlier : specs) {
      if (metric_display_name(earlier) == metric_display_name(metric)) {
        metrics[i].fail("metric '" + metric_display_name(metric) + "' is listed twice");
      }
    }
    specs.push_back(std::move(metric));
  }
  return specs;
}

}  // namespace

LearningRateSpec read_learning_rate(ConfigNode node, double fallback) {
  if (node.is_null()) return {.constant = fallback};
  if (node.is_scalar()) return {.constant = node.as_real(0.0)};
  node.expect_map();
  const auto entries = node.entries();
  if (entries.size() != 1) {
    node.fail("expected a number or one schedule, e.g. {exponential_decay: {...}} (known: " +
              join_names(schedule_names()) + ")");
  }
  auto [name, options] = entries[0];
  const ScheduleDefinition* definition = find_schedule(name);
  if (!definition) {
    throw InputError(node.where_key(name) + ": unknown schedule '" + name +
                     "' (known: " + join_names(schedule_names()) + ")");
  }
  options.expect_map();
  return {.constant = fallback,
          .schedule = ScheduleSpec{
              .name = name,
              .options = read_options(options, definition->options, "for schedule '" + name + "'",
                                      both(definition->check, unknown_monitor))}};
}

OptimizerSpec read_optimizer_options(const std::string& name, ConfigNode options) {
  const OptimizerDefinition* definition = OptimizerRegistry::global().find(name);
  if (!definition) {
    options.fail("unknown optimizer '" + name +
                 "' (known: " + join_names(OptimizerRegistry::global().names()) + ")");
  }
  if (!options.is_null()) options.expect_map();
  OptimizerSpec spec{.name = name};
  const auto learning_rate = options.find("learning_rate");
  spec.learning_rate = read_learning_rate(learning_rate ? *learning_rate : ConfigNode(),
                                          definition->default_learning_rate);
  read_declared_options(options, without(definition->schema(), {"learning_rate"}), spec.options);
  if (const auto problem = definition->checks()(spec.options)) {
    fail_at(options, *problem);
  }
  if (!options.is_null()) options.finish("for optimizer '" + name + "'");
  return spec;
}

OptimizerSpec read_optimizer(ConfigNode node) {
  NamedOptions named = name_and_options(node, OptimizerRegistry::global().names(), "optimizer");
  return read_optimizer_options(named.name, named.options);
}

TrainerSpec read_trainer(ConfigNode node, const DataSpec& data) {
  node.expect_map();
  TrainerSpec spec;
  spec.optimizer = read_optimizer_options("rmsprop", ConfigNode());
  if (auto optimizer = node.find("optimizer")) spec.optimizer = read_optimizer(*optimizer);
  spec.loss = read_loss(node.at("loss"));
  if (auto metrics = node.find("metrics")) spec.metrics = read_metrics(*metrics);
  spec.batch_size = node.get_int("batch_size", 32, 1, 1 << 20);
  spec.batch_size_where = node.has("batch_size") ? node.at("batch_size").where() : node.where();
  spec.epochs = node.get_int("epochs", 1, 1, 1 << 20);
  spec.shuffle = node.get_bool("shuffle", true);
  if (auto policy = node.find("on_nonfinite")) {
    const std::string value = choose(*policy, {"skip", "stop"}, "on_nonfinite policy");
    spec.on_nonfinite =
        value == "skip" ? TrainerSpec::OnNonFinite::skip : TrainerSpec::OnNonFinite::stop;
  }
  spec.check_numerics = node.get_bool("check_numerics", false);
  spec.flush_denormals = node.get_bool("flush_denormals", true);
  spec.checkpoint.monitor.metric = default_monitor(data);
  if (auto callbacks = node.find("callbacks")) read_callbacks(*callbacks, spec, data);
  node.finish();
  return spec;
}

}  // namespace loom
