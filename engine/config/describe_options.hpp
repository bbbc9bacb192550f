#pragma once
// Listings of what a config may write, from the schemas themselves (so they cannot drift from
// what is read): one schema as a table, and every optimizer, learning-rate schedule, metric
// and callback with its options.

#include <span>
#include <string>

#include "engine/graph/attributes.hpp"

namespace loom {

// One line per option: name, type, default ("required", "off" when absence turns it off),
// range (or a text option's choices), doc.
std::string describe_options(std::span<const AttributeSpec> schema);

// Every optimizer (its shared and own options, with its defaults), schedule, metric and
// callback, each headed by where a config writes it.
std::string describe_all_options();
// The one optimizer, schedule, metric or callback called `name`, under its heading; an unknown
// name is an InputError listing the known ones.
std::string describe_options_of(const std::string& name);

}  // namespace loom
