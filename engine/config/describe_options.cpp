#include "engine/config/describe_options.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include "engine/config/read_callbacks.hpp"
#include "engine/core/error.hpp"
#include "engine/core/join_names.hpp"
#include "engine/data/metrics.hpp"
#include "engine/optim/optimizer.hpp"
#include "engine/plugin/layer.hpp"

namespace loom {

namespace {

std::string type_name(AttributeKind kind) {
  switch (kind) {
    case AttributeKind::boolean:
      return "boolean";
    case AttributeKind::integer:
      return "integer";
    case AttributeKind::real:
      return "number";
    case AttributeKind::text:
      return "text";
    case AttributeKind::integers:
      return "integers";
    case AttributeKind::reals:
      return "numbers";
  }
  return "?";
}

std::string default_text(const AttributeSpec& spec) {
  switch (spec.when_absent) {
    case WhenAbsent::required:
      return "required";
    case WhenAbsent::off:
      return "off";
    case WhenAbsent::defaulted:
      if (spec.default_value) return to_string(*spec.default_value);
      break;
    case WhenAbsent::unset:
      break;
  }
  return "-";
}

std::string range_text(const AttributeSpec& spec) {
  if (!spec.choices.empty()) return join_names(spec.choices);
  if (spec.range.is_unbounded()) return "";
  switch (spec.kind) {
    case AttributeKind::integer:
    case AttributeKind::integers:
      return spec.range.integer_bounds();
    case AttributeKind::real:
    case AttributeKind::reals:
      return spec.range.interval();
    default:
      return "";
  }
}

std::string padded(const std::string& text, size_t width) {
  return text + std::string(width > text.size() ? width - text.size() : 0, ' ');
}

using Entry = std::pair<std::string, std::vector<AttributeSpec>>;  // a name and its options

// A heading, then each entry's name and its options' table indented under it.
std::string section(const std::string& heading, const std::vector<Entry>& entries) {
  std::string text = heading + "\n";
  for (const auto& [name, schema] : entries) {
    text += "  " + name + (schema.empty() ? " (no options)\n" : "\n");
    if (schema.empty()) continue;
    const std::string table = describe_options(schema);
    for (size_t start = 0; start < table.size();) {
      const size_t end = table.find('\n', start);
      text += "    " + table.substr(start, end - start + 1);
      start = end + 1;
    }
  }
  return text;
}

// Where a config writes each kind of named thing, and every one of them with its options.
std::vector<std::pair<std::string, std::vector<Entry>>> option_sections() {
  std::vector<Entry> optimizers, schedules, metrics, callbacks;
  const OptimizerRegistry& registry = OptimizerRegistry::global();
  for (const std::string& name : registry.names()) {
    optimizers.emplace_back(name, registry.find(name)->schema());
  }
  for (const ScheduleDefinition& schedule : schedule_definitions()) {
    schedules.emplace_back(schedule.name, schedule.options);
  }
  for (const MetricDefinition& metric : metric_definitions()) {
    metrics.emplace_back(metric.name, metric.options);
  }
  for (const CallbackDefinition& callback : callback_definitions()) {
    callbacks.emplace_back(callback.name, callback.options);
  }
  std::vector<std::pair<std::string, std::vector<Entry>>> sections = {
      {"optimizers (trainer.optimizer: NAME, or {NAME: {options}})", optimizers},
      {"learning-rate schedules (learning_rate: NUMBER, or {NAME: {options}})", schedules},
      {"metrics (trainer.metrics: [NAME, or {NAME: {options}}])", metrics},
      {"callbacks (trainer.callbacks: {NAME: {options}})", callbacks}};
  // Plugins' layers (the built-in kinds are in the README): listed when a plugin adds some.
  std::vector<Entry> layers;
  for (const std::string& name : LayerRegistry::global().names()) {
    layers.emplace_back(name, LayerRegistry::global().find(name)->options);
  }
  if (!layers.empty()) {
    sections.emplace_back("plugin layers (model.layers: [{NAME: {}, option: value}])", layers);
  }
  return sections;
}

}  // namespace

std::string describe_options(std::span<const AttributeSpec> schema) {
  std::vector<std::array<std::string, 5>> rows = {{"option", "type", "default", "range", "doc"}};
  for (const AttributeSpec& spec : schema) {
    rows.push_back(
        {spec.name, type_name(spec.kind), default_text(spec), range_text(spec), spec.help});
  }
  std::array<size_t, 4> widths{};
  for (const auto& row : rows) {
    for (size_t column = 0; column < widths.size(); ++column) {
      widths[column] = std::max(widths[column], row[column].size());
    }
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line;
    for (size_t column = 0; column < widths.size(); ++column) {
      line += padded(row[column], widths[column] + 2);
    }
    line += row[4];
    line.erase(line.find_last_not_of(' ') + 1);
    text += line + "\n";
  }
  return text;
}

std::string describe_all_options() {
  std::string text;
  for (const auto& [heading, entries] : option_sections()) {
    text += (text.empty() ? "" : "\n") + section(heading, entries);
  }
  return text;
}

std::string describe_options_of(const std::string& name) {
  std::vector<std::string> known;
  for (const auto& [heading, entries] : option_sections()) {
    for (const Entry& entry : entries) {
      if (entry.first == name) return section(heading, {entry});
      known.push_back(entry.first);
    }
  }
  std::ranges::sort(known);
  throw InputError("unknown optimizer, schedule, metric, callback or plugin layer '" + name +
                   "' (known: " + join_names(known) + ")");
}

}  // namespace loom
