// leaky_relu: y = x if x > 0, negative_slope·x otherwise (Keras 3's
// keras.activations.leaky_relu, negative_slope = 0.2 by default). oneDNN's relu with
// alpha = negative_slope.
//
// The gradient reads the input (dx = dy if x > 0, negative_slope·dy otherwise): oneDNN's
// "use dst for backward" relu variant rejects a negative slope (the sign of y no longer tells
// the side of the kink), and Keras accepts any slope, so the plain algorithm serves every value.

#include "ops/eltwise_common.hpp"

namespace loom {

void register_leaky_relu(OpRegistry& registry) {
  register_eltwise(
      registry,
      {.name = "leaky_relu",
       .algorithm = dnnl::algorithm::eltwise_relu,
       .attributes = {{"negative_slope", AttributeKind::real,
                       "slope for x <= 0 (default 0.2, as in Keras)"}},
       .alpha = [](const Attributes& a) { return float(a.get_real("negative_slope", 0.2)); },
       .in_place = true});
}

}  // namespace loom
