#pragma once
// Reads YAML against an option schema (engine/graph/option_schema.hpp), once, at load: each
// declared key as its kind, within its range and choices, absent keys as the schema says
// (default, required, off), and unknown keys rejected with the schema's names. Errors carry
// the value's config position; what is read is typed, and nothing past the config sees YAML.

#include <span>
#include <string>

#include "engine/config/config_node.hpp"
#include "engine/graph/option_schema.hpp"

namespace loom {

// One written value, read as `spec` declares it.
AttributeValue read_option(const ConfigNode& node, const AttributeSpec& spec);

// Reads every option of `schema` from `node` (a map, or null for none written) into `values`.
// Each key becomes known to the node; the caller may read more keys and calls finish().
void read_declared_options(ConfigNode& node, std::span<const AttributeSpec> schema,
                           Attributes& values);

// Fails at the position of what `problem` names in the options map `node`.
[[noreturn]] void fail_at(ConfigNode& node, const OptionProblem& problem);

// The whole options map: read_declared_options, then `check` (if any), then unknown keys
// rejected with `owner` in the message ("for optimizer 'rmsprop'").
Attributes read_options(ConfigNode node, std::span<const AttributeSpec> schema,
                        const std::string& owner, const OptionCheck& check = {});

}  // namespace loom
