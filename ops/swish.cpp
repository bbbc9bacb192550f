// swish, also named silu: y = x·sigmoid(x) = x / (1 + e^-x) (Keras's swish and silu, the same
// function under two names; no parameters). oneDNN's swish computes x·sigmoid(alpha·x): alpha
// is 1. swish is not monotonic (y does not determine x), so the gradient reads the input.

#include <cmath>

#include "ops/eltwise_common.hpp"

namespace loom {

namespace {

void register_swish_as(OpRegistry& registry, const std::string& name) {
  register_eltwise(
      registry, {.name = name,
                 .algorithm = dnnl::algorithm::eltwise_swish,
                 .alpha = [](const Attributes&) { return 1.f; },
                 .in_place = true,
                 .reference = [](double x, const Attributes&) { return x / (1 + std::exp(-x)); }});
}

}  // namespace

// Registers both names (and their backward ops).
void register_swish(OpRegistry& registry) {
  register_swish_as(registry, "swish");
  register_swish_as(registry, "silu");
}

}  // namespace loom
