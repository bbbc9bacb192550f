// leaky_relu: y = x if x > 0, negative_slope·x otherwise (Keras 3's
// keras.activations.leaky_relu, negative_slope = 0.2 by default). oneDNN's relu with
// alpha = negative_slope.
//
// The gradient reads the input (dx = dy if x > 0, negative_slope·dy otherwise): oneDNN's
// "use dst for backward" relu variant rejects a negative slope (the sign of y no longer tells
// the side of the kink), and Keras accepts any slope, so the plain algorithm serves every value.

#include "ops/eltwise_common.hpp"

namespace loom {

namespace {

// One reading of the attribute for the kernel and the reference, so their defaults agree.
double negative_slope(const Attributes& a) {
  return a.get_real("negative_slope", 0.2);
}

}  // namespace

void register_leaky_relu(OpRegistry& registry) {
  register_eltwise(registry, {.name = "leaky_relu",
                              .algorithm = dnnl::algorithm::eltwise_relu,
                              .attributes = {{"negative_slope", AttributeKind::real,
                                              "slope for x <= 0 (default 0.2, as in Keras)"}},
                              .alpha = [](const Attributes& a) { return float(negative_slope(a)); },
                              .in_place = true,
                              .reference =
                                  [](double x, const Attributes& a) {
                                    return x > 0 ? x : negative_slope(a) * x;
                                  }});
}

}  // namespace loom
