#pragma once
// Option schemas: the AttributeSpecs an optimizer, a schedule, a metric or a callback declares
// for its options, built one line per option, and the typed values resolved against them.
// The config reads YAML against a schema once (engine/config/read_options.hpp); everything
// below it sees only the typed values.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/graph/attributes.hpp"

namespace loom {

using OptionSchema = std::vector<AttributeSpec>;

// Ranges.
AttributeRange any_value();
AttributeRange at_least(double min);
AttributeRange between(double min, double max);
AttributeRange above_up_to(double min, double max);  // (min, max]

// Options with a default.
AttributeSpec real_option(std::string name, double fallback, AttributeRange range, std::string doc);
AttributeSpec integer_option(std::string name, int64_t fallback, AttributeRange range,
                             std::string doc);
AttributeSpec boolean_option(std::string name, bool fallback, std::string doc);
AttributeSpec text_option(std::string name, std::string fallback, std::vector<std::string> choices,
                          std::string doc);
// Options that must be written (a list's range bounds each element).
AttributeSpec required_option(std::string name, AttributeKind kind, AttributeRange range,
                              std::string doc);
// A number whose absence (or null) turns its feature off.
AttributeSpec switch_option(std::string name, AttributeRange range, std::string doc);

// A problem found by a check across options: the key it is reported at (empty: the options
// themselves), an element of that key's list when `index` is set, and what must change.
struct OptionProblem {
  std::string key;
  std::optional<size_t> index;
  std::string message;
};
// Empty when the options agree with each other.
using OptionCheck = std::function<std::optional<OptionProblem>(const Attributes&)>;
// Both checks, in order (either may be empty): the first problem found.
OptionCheck both(OptionCheck first, OptionCheck second);

// The values with every absent default filled in; a missing required one is an InputError
// naming `owner` ("optimizer 'rmsprop'"). Values that are present are kept as they are.
Attributes with_defaults(std::span<const AttributeSpec> schema, Attributes values,
                         const std::string& owner);
// The schema without the options named (a callback that takes its learning rate elsewhere).
OptionSchema without(std::span<const AttributeSpec> schema, const std::vector<std::string>& names);

}  // namespace loom
