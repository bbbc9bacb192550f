#include "engine/config/read_values.hpp"

#include <algorithm>

#include "engine/core/checked.hpp"
#include "engine/core/error.hpp"

namespace loom {

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::ranges::find(names, name) != names.end();
}

std::string choose(ConfigNode node, const std::vector<std::string>& known,
                   const std::string& what) {
  const std::string name = node.as_string();
  if (!contains(known, name)) {
    node.fail("unknown " + what + " '" + name + "' (known: " + join_names(known) + ")");
  }
  return name;
}

Shape read_shape(const ConfigNode& node) {
  if (!node.is_sequence() || node.size() == 0) {
    node.fail("expected a shape: a non-empty list of positive sizes, e.g. [784]");
  }
  Shape shape = node.as_int_list(1);
  try {
    numel(shape);  // a product that wraps (2^62+1 × 784 is 784) or exceeds 2^40 is refused here
  } catch (const SizeError& error) {
    node.fail(error.what());
  }
  return shape;
}

// Keras's regularizer {l2: factor} (unknown kinds such as l1 are reported as such first).
double read_l2(ConfigNode node) {
  node.expect_map();
  node.allow("l2");
  node.finish("for a regularizer");
  return node.at("l2").as_real(0.0);
}

Initializer read_initializer(ConfigNode node) {
  Initializer initializer;
  initializer.name = choose(node, initializer_names(), "initializer");
  return initializer;
}

}  // namespace loom
