// gelu: Keras 3's gelu, approximate = false by default:
//   exact (erf) form:    y = 0.5·x·(1 + erf(x / √2))
//   approximate = true:  y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
// oneDNN's gelu_erf and gelu_tanh (its plain "gelu" is the tanh form, unlike Keras's default).
// Neither has a "use dst for backward" variant (y does not determine x: gelu is not
// monotonic), so the gradient reads the input.

#include <cmath>
#include <numbers>

#include "ops/eltwise_common.hpp"

namespace loom {

namespace {

// One reading of the attribute for the kernel and the reference, so their defaults agree.
bool approximate(const Attributes& a) {
  return a.get_bool("approximate", false);
}

double gelu(double x, const Attributes& a) {
  if (approximate(a)) {
    const double c = std::sqrt(2 / std::numbers::pi);
    return 0.5 * x * (1 + std::tanh(c * (x + 0.044715 * x * x * x)));
  }
  return 0.5 * x * (1 + std::erf(x / std::numbers::sqrt2));
}

}  // namespace

void register_gelu(OpRegistry& registry) {
  register_eltwise(
      registry,
      {.name = "gelu",
       .algorithm = dnnl::algorithm::eltwise_gelu_erf,
       .choose_algorithm =
           [](const Attributes& a) {
             return approximate(a) ? dnnl::algorithm::eltwise_gelu_tanh
                                   : dnnl::algorithm::eltwise_gelu_erf;
           },
       .attributes = {{"approximate", AttributeKind::boolean,
                       "use the tanh approximation (default false: the exact erf form, as in "
                       "Keras)"}},
       .in_place = true,
       .reference = gelu});
}

}  // namespace loom
