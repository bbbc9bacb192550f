#pragma once
// Small readers the config's sections share: a name from a known list, a shape, an
// initializer, a regularizer. Each fails at the value's config position.

#include <string>
#include <vector>

#include "engine/config/config_node.hpp"
#include "engine/core/tensor_type.hpp"
#include "engine/graph/initializer.hpp"

namespace loom {

bool contains(const std::vector<std::string>& names, const std::string& name);
// The value, when it is one of `known`; else "unknown <what> '<value>' (known: ...)".
std::string choose(ConfigNode node, const std::vector<std::string>& known, const std::string& what);
// A non-empty list of positive sizes whose product is a size the engine can hold.
Shape read_shape(const ConfigNode& node);
// Keras's regularizer {l2: factor}.
double read_l2(ConfigNode node);
Initializer read_initializer(ConfigNode node);

}  // namespace loom
