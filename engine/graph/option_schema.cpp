#include "engine/graph/option_schema.hpp"

#include <algorithm>

#include "engine/core/error.hpp"

namespace loom {

AttributeRange any_value() {
  return {};
}

AttributeRange at_least(double min) {
  return {.min = min};
}

AttributeRange between(double min, double max) {
  return {.min = min, .max = max};
}

AttributeRange above_up_to(double min, double max) {
  return {.min = min, .max = max, .min_inclusive = false};
}

AttributeSpec real_option(std::string name, double fallback, AttributeRange range,
                          std::string doc) {
  return {.name = std::move(name),
          .kind = AttributeKind::real,
          .help = std::move(doc),
          .when_absent = WhenAbsent::defaulted,
          .default_value = fallback,
          .range = range};
}

AttributeSpec integer_option(std::string name, int64_t fallback, AttributeRange range,
                             std::string doc) {
  return {.name = std::move(name),
          .kind = AttributeKind::integer,
          .help = std::move(doc),
          .when_absent = WhenAbsent::defaulted,
          .default_value = fallback,
          .range = range};
}

AttributeSpec boolean_option(std::string name, bool fallback, std::string doc) {
  return {.name = std::move(name),
          .kind = AttributeKind::boolean,
          .help = std::move(doc),
          .when_absent = WhenAbsent::defaulted,
          .default_value = fallback};
}

AttributeSpec text_option(std::string name, std::string fallback, std::vector<std::string> choices,
                          std::string doc) {
  return {.name = std::move(name),
          .kind = AttributeKind::text,
          .help = std::move(doc),
          .when_absent = WhenAbsent::defaulted,
          .default_value = std::move(fallback),
          .choices = std::move(choices)};
}

AttributeSpec required_option(std::string name, AttributeKind kind, AttributeRange range,
                              std::string doc) {
  return {.name = std::move(name),
          .kind = kind,
          .help = std::move(doc),
          .when_absent = WhenAbsent::required,
          .range = range};
}

AttributeSpec switch_option(std::string name, AttributeRange range, std::string doc) {
  return {.name = std::move(name),
          .kind = AttributeKind::real,
          .help = std::move(doc),
          .when_absent = WhenAbsent::off,
          .range = range};
}

OptionCheck both(OptionCheck first, OptionCheck second) {
  return [first, second](const Attributes& options) -> std::optional<OptionProblem> {
    if (first) {
      if (auto problem = first(options)) return problem;
    }
    if (second) return second(options);
    return std::nullopt;
  };
}

Attributes with_defaults(std::span<const AttributeSpec> schema, Attributes values,
                         const std::string& owner) {
  for (const AttributeSpec& spec : schema) {
    if (values.has(spec.name)) continue;
    if (spec.when_absent == WhenAbsent::required) {
      throw InputError(owner + ": the option '" + spec.name + "' is required");
    }
    if (spec.when_absent == WhenAbsent::defaulted && spec.default_value) {
      values.set(spec.name, *spec.default_value);
    }
  }
  return values;
}

OptionSchema without(std::span<const AttributeSpec> schema, const std::vector<std::string>& names) {
  OptionSchema result;
  for (const AttributeSpec& spec : schema) {
    if (std::ranges::find(names, spec.name) == names.end()) result.push_back(spec);
  }
  return result;
}

}  // namespace loom
